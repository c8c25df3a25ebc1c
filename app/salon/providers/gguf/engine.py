"""llama-cpp-python, loaded only here and only when a ``gguf/…`` model is used.

Everything in this module runs on a worker thread, never on the event loop: loading maps the weights and
allocates the context, and every generated token is a decode of the whole network. The loop is Salon's own,
over llama-cpp-python's ``Llama.generate`` token generator, so that Salon counts every token itself (prompt
and reply, for usage), stops within one token of being asked to, and never truncates a prompt silently.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import import_module
from types import ModuleType
from typing import Any

from salon.errors import ContextTooLong, EngineMissing, ModelFileError
from salon.providers.gguf.file import GGUFInfo

# Where a file has no chat template, the format of its model family, by GGUF architecture. Gemma's own format
# has no system turn, so the system prompt joins the first user turn (as Gemma's published template does).
FALLBACK_FORMATS = {"gemma": "gemma", "gemma2": "gemma", "gemma3": "gemma", "gemma3n": "gemma",
                    "llama": "llama-2", "mistral": "mistral-instruct", "phi3": "phi3"}
DEFAULT_FALLBACK = "chatml"
_NO_SYSTEM_TURN = {"gemma"}

# Salon's parameter names → ``Llama.generate`` keywords.
_SAMPLING = {"temperature": "temp", "top_p": "top_p", "top_k": "top_k", "min_p": "min_p",
             "typical_p": "typical_p", "repeat_penalty": "repeat_penalty",
             "presence_penalty": "presence_penalty", "frequency_penalty": "frequency_penalty",
             "mirostat": "mirostat_mode", "mirostat_tau": "mirostat_tau", "mirostat_eta": "mirostat_eta"}


_LOG = logging.getLogger("salon.llama_cpp")
_routes: list[Any] = []
"""The ctypes log callback handed to llama.cpp: it must live as long as the process, or llama.cpp calls freed
memory."""


def import_llama_cpp() -> ModuleType:
    """The ``llama_cpp`` module, or :class:`EngineMissing` saying how to install it."""
    try:
        module = import_module("llama_cpp")
    except ImportError as error:
        # A missing package, or one whose compiled library does not load on this machine: the same way out.
        detail = "" if getattr(error, "name", None) == "llama_cpp" else str(error)
        raise EngineMissing(detail) from None
    if not _routes:
        _routes.append(_quiet_log(module))
    return module


def _quiet_log(llama_cpp: ModuleType) -> Any:
    # llama-cpp-python prints some of llama.cpp's messages to stderr even with verbose=False ("using full-size
    # SWA cache" on every load): on a terminal that is noise under `salon ask`'s answer. Failures reach the user
    # as exceptions; the messages go to Python logging, for whoever wants them.
    @llama_cpp.llama_log_callback
    def route(level: int, text: bytes, user_data: Any) -> None:
        _LOG.debug("%s", text.decode("utf-8", "replace").rstrip())

    llama_cpp.llama_log_set(route, ctypes.c_void_p(0))
    return route


def chat_format_for(info: GGUFInfo) -> str | None:
    """The fallback chat format for a file with no template of its own; None when it has one."""
    if info.chat_template:
        return None
    return FALLBACK_FORMATS.get(info.architecture, DEFAULT_FALLBACK)


@dataclass(frozen=True, slots=True)
class Finished:
    """How a generation ended, counted by Salon: llama.cpp's tokens, not an estimate."""

    reason: str
    """``stop`` (end of turn or a stop string), ``length`` (max_tokens or the context), ``cancelled``."""
    prompt_tokens: int
    output_tokens: int
    eval_seconds: float | None
    """From the first generated token to the last: the rate of generation alone, load and prompt excluded."""


class Engine:
    """One loaded model: a ``llama_cpp.Llama`` and the prompt format it is used with. Not thread-safe."""

    def __init__(self, info: GGUFInfo, n_ctx: int, threads: int | None = None) -> None:
        llama_cpp = import_llama_cpp()
        self.info = info
        self.path = info.path
        self.n_ctx = n_ctx
        self.fallback = chat_format_for(info)
        try:
            self.llama = llama_cpp.Llama(model_path=str(info.path), n_ctx=n_ctx, n_threads=threads,
                                         chat_format=self.fallback, verbose=False)
        except (ValueError, RuntimeError) as error:
            # The header was fine (read_header passed) but llama.cpp would not load the weights: an
            # architecture this llama.cpp does not know, or damage past the header.
            raise ModelFileError(info.path, f"llama.cpp could not load it ({error})") from None
        self._llama_cpp = llama_cpp
        # One generation at a time, and never a close during one: a reply's worker may outlive its stream by
        # a token when the stream is torn down.
        self._busy = threading.Lock()
        self._vocab = llama_cpp.llama_model_get_vocab(self.llama.model)
        self._formatter = self._make_formatter(import_module("llama_cpp.llama_chat_format"))

    def close(self) -> None:
        with self._busy, contextlib.suppress(Exception):
            self.llama.close()

    @property
    def template(self) -> str:
        """Which prompt format is used, as ``salon models`` and the docs name it."""
        return "the file's chat template" if self.fallback is None else f"'{self.fallback}' (fallback)"

    def _make_formatter(self, chat_format: ModuleType) -> Callable[..., Any]:
        if self.fallback is None:
            llama = self.llama
            eos, bos = llama.token_eos(), llama.token_bos()

            def text(token: int) -> str:
                return llama.detokenize([token], special=True).decode("utf-8", "replace") if token != -1 else ""

            return chat_format.Jinja2ChatFormatter(template=self.info.chat_template or "", eos_token=text(eos),
                                                   bos_token=text(bos), stop_token_ids=[eos])
        return getattr(chat_format, f"format_{self.fallback.replace('-', '_')}")

    def prompt(self, messages: Sequence[Mapping[str, str]]) -> tuple[list[int], list[str]]:
        """The conversation as the model's prompt tokens, and the stop strings its format adds.

        Raises :class:`ContextTooLong` when the prompt does not fit in the context with room to answer.
        """
        turns = [dict(m) for m in messages]
        if self.fallback in _NO_SYSTEM_TURN:
            turns = _system_into_first_user_turn(turns)
        result = self._formatter(messages=turns)
        tokens = self.llama.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special,
                                     special=True)
        if len(tokens) >= self.n_ctx:
            raise ContextTooLong(
                f"the conversation is {len(tokens):,} tokens, which does not fit in this model's context of "
                f"{self.n_ctx:,} (num_ctx) with room for a reply. Raise num_ctx in the agent's [params] or start "
                "a new conversation; Salon does not cut it short silently.")
        stops = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        return tokens, [s for s in stops if s]

    def generate(self, prompt: list[int], params: Mapping[str, Any], stop: threading.Event,
                 emit: Callable[[str], None], format_stops: Sequence[str] = ()) -> Finished:
        """Generate a reply to ``prompt``, handing each piece of text to ``emit`` as it is decoded."""
        with self._busy:
            return self._generate(prompt, params, stop, emit, format_stops)

    def _generate(self, prompt: list[int], params: Mapping[str, Any], stop: threading.Event,
                  emit: Callable[[str], None], format_stops: Sequence[str]) -> Finished:
        llama = self.llama
        seed = params.get("seed")
        llama.set_seed(seed if isinstance(seed, int) else random.randrange(2**31))
        wanted = params.get("max_tokens", params.get("num_predict"))
        room = self.n_ctx - len(prompt)
        limit = min(wanted, room) if isinstance(wanted, int) and wanted > 0 else room
        stops = _stop_strings(params.get("stop"))
        stop_tokens = self._stop_tokens(format_stops)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        sampling = {_SAMPLING[k]: v for k, v in params.items() if k in _SAMPLING}
        held, produced, reason = "", 0, "length"
        first = last = None
        tokens = llama.generate(prompt, **sampling)
        for token in tokens:
            last = time.perf_counter()
            first = first or last
            if stop.is_set():
                reason = "cancelled"
                break
            if token in stop_tokens or self._llama_cpp.llama_vocab_is_eog(self._vocab, token):
                reason = "stop"
                break
            produced += 1
            held += decoder.decode(llama.detokenize([token]))
            held, cut = _split_at_stop(held, stops)
            if cut:
                reason = "stop"
                break
            if held and (ready := held[:len(held) - _partial_stop(held, stops)]):
                emit(ready)
                held = held[len(ready):]
            if produced >= limit:
                break
        tokens.close()
        if reason != "stop":
            held += decoder.decode(b"", final=True)
        if held and reason != "cancelled":
            emit(held)
        seconds = (last - first) if first is not None and last is not None and produced > 1 else None
        # `seconds` spans produced - 1 decode steps; scale it to all of them for an honest per-token rate.
        eval_seconds = seconds * produced / (produced - 1) if seconds else None
        return Finished(reason, len(prompt), produced, eval_seconds)

    def _stop_tokens(self, format_stops: Sequence[str]) -> frozenset[int]:
        # A format's stop string is usually one special token (Gemma's <end_of_turn>), which plain detokenising
        # renders as nothing: it has to be caught as a token.
        found = set()
        for text in format_stops:
            tokens = self.llama.tokenize(text.strip().encode("utf-8"), add_bos=False, special=True)
            if len(tokens) == 1:
                found.add(tokens[0])
        return frozenset(found)


def _system_into_first_user_turn(turns: list[dict[str, str]]) -> list[dict[str, str]]:
    system = "\n\n".join(t["content"] for t in turns if t["role"] == "system" and t["content"])
    rest = [t for t in turns if t["role"] != "system"]
    if system:
        for turn in rest:
            if turn["role"] == "user":
                turn["content"] = f"{system}\n\n{turn['content']}"
                break
        else:
            rest.insert(0, {"role": "user", "content": system})
    return rest


def _stop_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return [s for s in value if isinstance(s, str) and s]
    return []


def _split_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the first stop string, and whether one was found."""
    cuts = [i for s in stops if (i := text.find(s)) >= 0]
    return (text[:min(cuts)], True) if cuts else (text, False)


def _partial_stop(text: str, stops: Sequence[str]) -> int:
    """How many characters at the end of ``text`` could begin a stop string (held back until the next token)."""
    longest = 0
    for s in stops:
        for size in range(min(len(s) - 1, len(text)), longest, -1):
            if s.startswith(text[-size:]):
                longest = size
                break
    return longest

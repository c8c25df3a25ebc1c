"""Accumulate one streamed completion into a final :class:`Reply`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from salon.surrogates import REPLACEMENT, SurrogateJoiner, mend

MIN_RATE_SECONDS = 1.0
"""A rate is shown only when measured over at least this long: a reply that took almost no time has no meaningful
tok/s (one showed "13567.9 tok/s · 0.0 s")."""


def shown_rate(tokens_per_second: float | None, seconds: float | None) -> float | None:
    """The rate to show for a reply that took ``seconds``, or None when there is none worth showing."""
    if not tokens_per_second or seconds is None or seconds < MIN_RATE_SECONDS:
        return None
    return tokens_per_second


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts; ``estimated`` is true when the provider sent none and they were guessed."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    estimated: bool = False

    def describe(self, unit: str = "", *, grouped: bool = True) -> str:
        """``26 in / 40 out`` (``?`` for a count not given), ``(estimated)`` after guessed ones: one wording for
        the chat's footer, ``salon ask --usage`` and exports. ``grouped`` writes thousands as ``1,200``."""
        def count(value: int | None) -> str:
            return "?" if value is None else f"{value:,}" if grouped else str(value)

        text = f"{count(self.input_tokens)} in / {count(self.output_tokens)} out{unit}"
        return text + " (estimated)" if self.estimated else text


@dataclass(frozen=True, slots=True)
class ToolCallPiece:
    """A piece of one tool call as it streams: ``index`` says which call; ``id`` and ``name`` come on its first
    piece (where the provider sends them), ``arguments`` is the new JSON text to append."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a completion as a provider yields it.

    The last chunk of a completion usually carries ``finish_reason`` and ``usage``; Ollama also reports how long
    generation took on the server (``eval_seconds``), which gives an honest tok/s. A chunk with ``sent`` set carries
    nothing else: a provider that prepares slowly before its request (the cloud one imports litellm, 3 s) yields
    it as the request goes out, and the reply's clock starts there.
    """

    text: str = ""
    thinking: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    eval_seconds: float | None = None
    model: str | None = None
    tool_calls: tuple[ToolCallPiece, ...] = ()
    sent: bool = False


REQUEST_SENT = Chunk(sent=True)


@dataclass(frozen=True, slots=True)
class Reply:
    """A finished (or, when cut short, partial) completion."""

    text: str = ""
    thinking: str = ""
    model: str = ""
    chunks: int = 0
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    time_to_first_token: float | None = None
    duration: float = 0.0
    tokens_per_second: float | None = None

    def metadata(self) -> dict[str, Any]:
        """Usage and timing, as exports and the HTTP face show them."""
        return {
            "model": self.model,
            "input_tokens": self.usage.input_tokens,
            "output_tokens": self.usage.output_tokens,
            "usage_estimated": self.usage.estimated,
            "finish_reason": self.finish_reason,
            "time_to_first_token": self.time_to_first_token,
            "duration": self.duration,
            "tokens_per_second": self.tokens_per_second,
            "chunks": self.chunks,
        }


class ReplyBuilder:
    """Collects chunks as they stream; :meth:`freeze` gives the :class:`Reply` at any moment.

    Every provider's text passes here, so this is where surrogates from JSON escapes are mended (a pair cut
    between two chunks joined, a lone half made U+FFFD): nothing downstream has to store or print one.
    """

    __slots__ = ("_clock", "_eval_seconds", "_finish_reason", "_first_token_at", "_joiners", "_model", "_sent",
                 "_started", "_text", "_thinking", "_usage", "chunks")

    def __init__(self, model: str = "", clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started = clock()
        self._sent = False
        self._first_token_at: float | None = None
        self._text: list[str] = []
        self._thinking: list[str] = []
        self._model = model
        self._usage: Usage | None = None
        self._finish_reason: str | None = None
        self._eval_seconds: float | None = None
        self._joiners = (SurrogateJoiner(), SurrogateJoiner())
        self.chunks = 0

    def add(self, chunk: Chunk) -> Chunk:
        """Take one chunk; returns it as kept (surrogates mended), which is what a face should show."""
        if chunk.sent and not self._sent and not self.chunks:
            # Timed from the first request out: litellm's import counted as reply time made the duration and the
            # tok/s disagree. A retry's request is not a new start: its wait is the user's too.
            self._sent = True
            self._started = self._clock()
        if chunk.text or chunk.thinking:
            self.chunks += 1
            if self._first_token_at is None:
                self._first_token_at = self._clock()
            text, thinking = self._joiners[0].feed(chunk.text), self._joiners[1].feed(chunk.thinking)
            if text is not chunk.text or thinking is not chunk.thinking:
                chunk = replace(chunk, text=text, thinking=thinking)
            if chunk.text:
                self._text.append(chunk.text)
            if chunk.thinking:
                self._thinking.append(chunk.thinking)
        if chunk.usage is not None:
            self._usage = chunk.usage
        if chunk.finish_reason is not None:
            self._finish_reason = chunk.finish_reason
        if chunk.eval_seconds is not None:
            self._eval_seconds = chunk.eval_seconds
        if chunk.model:
            self._model = mend(chunk.model)
        return chunk

    @property
    def text(self) -> str:
        # Half a pair still waiting for its partner counts as U+FFFD, should the stream end here.
        return "".join(self._text) + REPLACEMENT * self._joiners[0].holding

    @property
    def thinking(self) -> str:
        return "".join(self._thinking) + REPLACEMENT * self._joiners[1].holding

    def elapsed(self) -> float:
        return self._clock() - self._started

    def freeze(self) -> Reply:
        duration = self.elapsed()
        ttft = None if self._first_token_at is None else self._first_token_at - self._started
        usage = self._usage or Usage()
        return Reply(
            text=self.text,
            thinking=self.thinking,
            model=self._model,
            chunks=self.chunks,
            usage=usage,
            finish_reason=self._finish_reason,
            time_to_first_token=ttft,
            duration=duration,
            tokens_per_second=self._tokens_per_second(usage, duration, ttft),
        )

    def _tokens_per_second(self, usage: Usage, duration: float, ttft: float | None) -> float | None:
        tokens = usage.output_tokens if usage.output_tokens is not None else None
        # The server's own generation time excludes network and model loading, so it is the honest figure.
        if tokens and self._eval_seconds:
            return tokens / self._eval_seconds
        generating = duration - (ttft or 0.0)
        count = tokens if tokens is not None else self.chunks
        if count and generating > 0:
            return count / generating
        return None

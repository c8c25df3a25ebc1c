"""Cloud providers and OpenAI-compatible servers through litellm, which is imported only when first used.

A model reference picks its ``[providers.NAME]`` section of ``config.toml`` by its first segment:
``openai/gpt-4o-mini`` reads ``[providers.openai]``, ``openrouter/anthropic/claude-3.5-sonnet`` reads
``[providers.openrouter]``. A first segment that is not one of litellm's providers (``local/qwen2.5-7b-instruct``)
names an OpenAI-compatible server of the user's own (LM Studio, vLLM, llama.cpp's server): its section must set
``api_base``, and it is sent no key unless the section names one with ``api_key_env``.

Importing this module imports nothing of litellm; :func:`import_litellm_async` loads it off the event loop.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType, ModuleType
from typing import Any

import httpx

from salon.config import Config, ProviderSettings
from salon.errors import (
    AuthError,
    BadRequest,
    ContextTooLong,
    MissingKey,
    ModelNotFound,
    ProviderError,
    ProviderStalled,
    ProviderUnreachable,
    RateLimited,
    RedirectRefused,
    ServerBusy,
    StreamInterrupted,
    UnknownProvider,
)
from salon.params import generation_params
from salon.providers.base import CompletionRequest, ModelInfo
from salon.providers.redirects import client_options
from salon.reply import Chunk, Usage

# Set before litellm is imported: they are read at import time.
_OFFLINE_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # the bundled price list, not a fetch from GitHub (a 5 s stall offline)
    # The default, DEV, loads a .env file found upwards from litellm's folder (from the working directory in a REPL).
    "LITELLM_MODE": "PRODUCTION",
}
_LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")

# What Salon sends as the key to a server of the user's own that needs none: OpenAI's client refuses to send
# nothing, and sending the user's real OPENAI_API_KEY to a server they did not say should have it would leak it.
NO_KEY = "salon-no-key"

# Ollama's runtime settings, meaningless to any other server; everything else in [params] passes through.
_OLLAMA_ONLY_PARAMS = frozenset({"num_ctx", "num_predict", "keep_alive", "num_gpu", "num_thread", "think"})
# Samplers of local engines (Ollama, llama.cpp, vLLM): a server of the user's own may take them, a cloud API
# answers 400 "Unrecognized request argument", so they go to a known provider only where litellm says it takes them.
_LOCAL_SAMPLERS = frozenset({"top_k", "min_p", "repeat_penalty", "repeat_last_n", "typical_p", "tfs_z", "mirostat",
                             "mirostat_tau", "mirostat_eta", "num_keep", "penalize_newline"})
_REASONING_EFFORTS = frozenset({"low", "medium", "high"})

_import_lock = threading.Lock()
# The configured module once imported; a cache like sys.modules, never reset.
_litellm: ModuleType | None = None


def import_litellm() -> ModuleType:
    """litellm, imported once and configured to stay offline and quiet.

    The first call takes seconds of CPU (about 2,600 modules): from a running event loop use
    :func:`import_litellm_async` instead.
    """
    global _litellm
    with _import_lock:
        if _litellm is None:
            os.environ.update(_OFFLINE_ENV)
            import litellm

            litellm.suppress_debug_info = True  # else mapped errors print "Give Feedback / Get Help" to stdout
            # litellm would download a Hugging Face tokenizer to estimate tokens for names like "llama-3";
            # its bundled tiktoken files estimate offline.
            litellm.disable_hf_tokenizer_download = True
            if not os.environ.get("LITELLM_LOG"):
                # litellm's handler writes info to stdout and warnings to stderr, which would tear through a pipe
                # from `salon ask` or the TUI's screen; Salon reports every failure itself. LITELLM_LOG re-enables.
                for name in _LITELLM_LOGGERS:
                    logging.getLogger(name).setLevel(logging.CRITICAL)
            _litellm = litellm
        return _litellm


async def import_litellm_async() -> ModuleType:
    """:func:`import_litellm` in a worker thread, so the event loop (the TUI's screen) keeps running meanwhile."""
    if _litellm is not None:
        return _litellm
    return await asyncio.to_thread(import_litellm)


def litellm_loaded() -> bool:
    return _litellm is not None


@dataclass(frozen=True, slots=True)
class Target:
    """Where one model reference is sent, and with what; the key never appears in its repr."""

    ref: str  # as the agent names it: "openai/gpt-4o-mini"
    provider: str  # its [providers.NAME] section: "openai"
    model: str  # litellm's name for it: the ref, or "openai/…" for an OpenAI-compatible server of the user's own
    api_base: str | None
    read_timeout: float
    key_names: tuple[str, ...]  # the variables a user sets for the key, for error messages
    supported_params: frozenset[str] | None  # what litellm says the provider takes; None for a server of one's own
    api_key: str | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a message: the key (litellm may read it from the environment itself),
        and headers that carry credentials."""
        values = [self.api_key or "", *(os.environ.get(name, "") for name in self.key_names)]
        values += [v for k, v in self.headers.items() if _is_credential_header(k)]
        return tuple(v for v in values if len(v) >= 4 and v != NO_KEY)


def _is_credential_header(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in ("auth", "key", "token", "secret", "cookie"))


class CloudProvider:
    """Completions from any provider litellm speaks to; every failure leaves as a :class:`ProviderError`."""

    label = "cloud"

    def __init__(self, config: Config) -> None:
        self.config = config
        self._open: set[Any] = set()
        self._clients: dict[tuple[str, str], Any] = {}

    async def aclose(self) -> None:
        for response in list(self._open):
            await _close(response)
        self._open.clear()
        for client in self._clients.values():
            with contextlib.suppress(Exception):
                await client.close()
        self._clients.clear()
        # litellm's HTTP clients are cached process-wide and left open: litellm hands a closed one to the next
        # session that asks (`close_litellm_async_clients` breaks every later call), and closes them at exit.

    async def list_models(self) -> list[ModelInfo]:
        """The models named in ``[providers.NAME] models = [...]``: no network call, no litellm import."""
        models = []
        for name, settings in sorted(self.config.providers.items()):
            for model in settings.models:
                ref = model if model.startswith(f"{name}/") else f"{name}/{model}"
                details = f"{name} at {settings.api_base}" if settings.api_base else name
                models.append(ModelInfo(ref=ref, name=ref.split("/", 1)[1], details=details))
        return models

    def target(self, litellm: ModuleType, ref: str) -> Target:
        """Resolve ``ref`` to a provider, base URL and key; raises before any request if it cannot be sent."""
        prefix, slash, rest = ref.partition("/")
        if not slash:
            # A bare name ("gpt-4o-mini"): litellm knows which provider serves it, or nobody does.
            try:
                prefix = str(litellm.get_llm_provider(ref)[1])
            except Exception:
                raise UnknownProvider(ref, ref) from None
        settings = self.config.providers.get(prefix, ProviderSettings())
        known = prefix in litellm.provider_list
        if not known and not settings.api_base:
            raise UnknownProvider(ref, prefix)
        model = ref if known else f"openai/{rest}"
        read_timeout = settings.read_timeout or self.config.read_timeout
        api_key: str | None = None
        if settings.api_key_env:
            api_key = os.environ.get(settings.api_key_env) or None
            if api_key is None:
                raise MissingKey([settings.api_key_env], ref)
            key_names: tuple[str, ...] = (settings.api_key_env,)
        elif not known:
            api_key, key_names = NO_KEY, ()
        else:
            missing = _missing_keys(litellm, model, settings.api_base)
            key_names = tuple(missing) or (f"{prefix.upper()}_API_KEY",)
            if missing:
                if not settings.api_base:
                    raise MissingKey(missing, ref)
                # A server at the user's own api_base may need no key; if it does, its 401 names the variable.
                api_key = NO_KEY
        return Target(ref=ref, provider=prefix, model=model, api_base=settings.api_base, read_timeout=read_timeout,
                      key_names=key_names, supported_params=_supported_params(litellm, model) if known else None,
                      api_key=api_key, headers=settings.headers)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        litellm = await import_litellm_async()
        target = self.target(litellm, request.model)
        errors = _ErrorMapper(litellm, target)
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        kwargs = self._arguments(target, request, messages)
        asked_at = time.monotonic()
        try:
            response = await litellm.acompletion(**kwargs)
        except Exception as error:
            # `from None`: the original's text may quote a key; the mapped message is scrubbed of it.
            raise errors.translate(error, started=False) from None
        if not request.stream:
            yield self._whole(litellm, target, response, messages, time.monotonic() - asked_at)
            return
        self._open.add(response)
        chunks = self._chunks(target, response, errors)
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()
            self._open.discard(response)
            await _close(response)

    def _arguments(self, target: Target, request: CompletionRequest, messages: list[dict[str, str]]
                   ) -> dict[str, Any]:
        connect = self.config.connect_timeout
        kwargs: dict[str, Any] = {
            **cloud_params(request.params, target.supported_params),
            "model": target.model,
            "messages": messages,
            "stream": request.stream,
            "timeout": httpx.Timeout(connect=connect, read=target.read_timeout, write=connect, pool=connect),
            # The runner decides what is retried, and only before any text arrived; litellm's client would retry
            # a 429 or 5xx on its own, silently, for seconds.
            "max_retries": 0,
            # Parameters a provider does not support are left out rather than failing the request.
            "drop_params": True,
        }
        if request.stream:
            kwargs["stream_options"] = {"include_usage": True}
        # Per call, never litellm's globals: a global api_base would beat every other provider's.
        if target.api_base:
            kwargs["api_base"] = target.api_base
        if target.api_key is not None:
            kwargs["api_key"] = target.api_key
        if target.headers:
            kwargs["extra_headers"] = dict(target.headers)
        if (client := self._openai_client(target)) is not None:
            kwargs["client"] = client
        return kwargs

    def _openai_client(self, target: Target) -> Any | None:
        """For an OpenAI-protocol server at the user's own ``api_base``: a client that refuses redirects.

        litellm's own OpenAI client follows them, so a ``307`` from that server re-sent the whole conversation to
        wherever it pointed. One client per base and key, for this session (its connections belong to its loop).
        """
        if not target.api_base or not target.model.startswith("openai/"):
            return None
        key = target.api_key if target.api_key is not None else next(
            (os.environ[name] for name in target.key_names if os.environ.get(name)), None)
        if key is None:
            return None
        client = self._clients.get((target.api_base, key))
        if client is None:
            import openai  # litellm's dependency, loaded with it already

            client = openai.AsyncOpenAI(api_key=key, base_url=target.api_base, max_retries=0,
                                        http_client=httpx.AsyncClient(**client_options(target.provider)))
            self._clients[(target.api_base, key)] = client
        return client

    async def _chunks(self, target: Target, response: Any, errors: _ErrorMapper) -> AsyncGenerator[Chunk, None]:
        received = 0
        finish_reason: str | None = None
        final_usage: Any = None
        served_model: str | None = None
        parts = aiter(response)
        while True:
            try:
                part = await anext(parts)
            except StopAsyncIteration:
                break
            except Exception as error:
                raise errors.translate(error, started=received > 0) from None
            received += 1
            served_model = getattr(part, "model", None) or served_model
            # litellm puts the usage it returns (the provider's, or its estimate) on a chunk after the last text.
            final_usage = getattr(part, "usage", None) or final_usage
            choices = getattr(part, "choices", None) or ()
            if not choices:
                continue
            choice = choices[0]
            finish_reason = choice.finish_reason or finish_reason
            delta = choice.delta
            text = getattr(delta, "content", None) or ""
            thinking = getattr(delta, "reasoning_content", None) or ""
            if text or thinking:
                yield Chunk(text=text, thinking=thinking)
        yield Chunk(finish_reason=finish_reason or "stop",
                    usage=_stream_usage(final_usage, _reported_usage(response)),
                    model=_served_ref(target, served_model))

    def _whole(self, litellm: ModuleType, target: Target, response: Any, messages: list[dict[str, str]],
               seconds: float) -> Chunk:
        choices = getattr(response, "choices", None) or ()
        if not choices:
            raise StreamInterrupted(f"{target.provider} sent a reply with no message in it")
        choice = choices[0]
        message = choice.message
        text = getattr(message, "content", None) or ""
        usage = getattr(response, "usage", None)
        counted_in = getattr(usage, "prompt_tokens", None)
        counted_out = getattr(usage, "completion_tokens", None)
        # Without usage in the body, litellm fills in zeros: no real prompt costs zero tokens.
        if counted_in or counted_out:
            reply_usage = Usage(input_tokens=counted_in, output_tokens=counted_out)
        else:
            reply_usage = Usage(input_tokens=_estimate(litellm, target.model, messages=messages),
                                output_tokens=_estimate(litellm, target.model, text=text), estimated=True)
        return Chunk(text=text, thinking=getattr(message, "reasoning_content", None) or "",
                     finish_reason=choice.finish_reason or "stop", usage=reply_usage,
                     # The whole request's time: a one-chunk reply has no span of its own to rate tokens by.
                     eval_seconds=seconds or None,
                     model=_served_ref(target, getattr(response, "model", None)))


def cloud_params(params: Mapping[str, Any], supported: Collection[str] | None = None) -> dict[str, Any]:
    """An agent's ``[params]`` as OpenAI-style arguments: Ollama's runtime settings dropped, the rest kept.

    ``supported`` (litellm's list for a provider it knows; None for a server of the user's own) limits the samplers
    of local engines to providers that take them.
    """
    # Only generation parameters, whoever built ``params``: litellm lets a per-call api_base, api_key or
    # extra_headers override everything, which would send the user's key wherever they point.
    params = generation_params(params)
    out = {k: v for k, v in params.items() if k not in _OLLAMA_ONLY_PARAMS
           and (supported is None or k not in _LOCAL_SAMPLERS or k in supported)}
    if "num_predict" in params and "max_tokens" not in params:
        out["max_tokens"] = params["num_predict"]
    think = params.get("think")
    if isinstance(think, str) and think.lower() in _REASONING_EFFORTS:
        out["reasoning_effort"] = think.lower()
    return out


def _supported_params(litellm: ModuleType, model: str) -> frozenset[str]:
    try:
        return frozenset(litellm.get_supported_openai_params(model=model) or ())
    except Exception:
        return frozenset()  # unknown to litellm: no local-engine samplers, everything else as written


def _missing_keys(litellm: ModuleType, model: str, api_base: str | None) -> list[str]:
    try:
        checked = litellm.validate_environment(model, api_base=api_base)
    except Exception:
        return []  # litellm cannot tell: let the provider answer
    return [str(name) for name in checked.get("missing_keys") or ()]


def _reported_usage(response: Any) -> Any:
    """The provider's own last usage report in this stream, or None if it sent none.

    litellm replaces missing counts with an estimate and does not say so; the chunks it kept from the provider
    (``CustomStreamWrapper.chunks``, which carry ``usage`` only where the provider sent it) are the one place that
    tells the two apart. Should that attribute ever go, every count is marked estimated: never a guess as a count.
    """
    reports = [usage for part in getattr(response, "chunks", None) or ()
               if (usage := getattr(part, "usage", None)) is not None]
    return reports[-1] if reports else None


def _stream_usage(final: Any, reported: Any) -> Usage | None:
    counted_in = getattr(reported, "prompt_tokens", None)
    counted_out = getattr(reported, "completion_tokens", None)
    if counted_in is not None and counted_out is not None:
        return Usage(input_tokens=counted_in, output_tokens=counted_out)
    guess_in = getattr(final, "prompt_tokens", None)
    guess_out = getattr(final, "completion_tokens", None)
    if final is None and reported is None:
        return Usage(estimated=True)
    return Usage(input_tokens=counted_in if counted_in is not None else guess_in,
                 output_tokens=counted_out if counted_out is not None else guess_out, estimated=True)


def _estimate(litellm: ModuleType, model: str, **what: Any) -> int | None:
    try:
        return int(litellm.token_counter(model=model, count_response_tokens="text" in what, **what))
    except Exception:
        return None


def _served_ref(target: Target, served: str | None) -> str | None:
    """The model that answered, as a reference: the provider may name a dated snapshot of what was asked for."""
    if not served:
        return None
    return served if served.startswith(f"{target.provider}/") else f"{target.provider}/{served}"


async def _close(response: Any) -> None:
    close = getattr(response, "aclose", None)
    # Closing a stream that already failed can fail again; the first error is the one reported.
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


class _ErrorMapper:
    """Turns litellm's exceptions into Salon's, keeping the server's own words and never a key."""

    def __init__(self, litellm: ModuleType, target: Target) -> None:
        self.litellm = litellm
        self.target = target

    def translate(self, error: Exception, *, started: bool) -> ProviderError:
        mapped = self._translate(error, started)
        secrets = self.target.secrets
        text = str(mapped)
        if any(secret in text for secret in secrets):
            for secret in secrets:
                text = text.replace(secret, "***")
            mapped.args = (text,)
        return mapped

    def _translate(self, error: Exception, started: bool) -> ProviderError:
        if isinstance(error, ProviderError):
            return error
        target = self.target
        name = target.provider
        chain = list(_chain(error))
        if refused := next((e for e in chain if isinstance(e, RedirectRefused)), None):
            return refused
        said = _server_text(chain)
        if any(isinstance(e, httpx.ConnectTimeout) for e in chain):
            return ProviderUnreachable(name, target.api_base, "timed out connecting")
        if any(isinstance(e, httpx.TimeoutException | TimeoutError) or _named(e, "APITimeoutError", "Timeout")
               for e in chain):
            return ProviderStalled(target.read_timeout, name)
        if _error_event(chain) is not None:
            # The server reported an error inside the stream: its own words are the whole story.
            return StreamInterrupted(f"{name} stopped the reply: {said}")
        if any(isinstance(e, httpx.ConnectError) for e in chain) or (
                not started and any(_named(e, "APIConnectionError") for e in chain)
                and not any(isinstance(e, httpx.ReadError | httpx.RemoteProtocolError) for e in chain)):
            return ProviderUnreachable(name, target.api_base, _reason(chain))
        if any(isinstance(e, ValueError) for e in chain):
            return StreamInterrupted(f"{name} sent a reply Salon could not read ({said})")
        if started or any(isinstance(e, httpx.TransportError) for e in chain):
            return StreamInterrupted(f"the connection to {name} was cut mid-reply ({said})")
        status = getattr(error, "status_code", None)
        said = said.rstrip(".")
        if isinstance(error, self.litellm.ContextWindowExceededError) or _code(chain) == "context_length_exceeded":
            return ContextTooLong(f"the conversation is too long for {target.ref}: {said}. Start a new "
                                  "conversation, or choose a model with a longer context.")
        if status in (401, 403):
            names = " or ".join(target.key_names) or f"api_key_env in [providers.{name}]"
            return AuthError(f"{name} refused the request ({status}: {said}). Check {names} (or api_key_env in "
                             "config.toml).")
        if status == 404:
            return ModelNotFound(target.ref, said, pull_hint=False)
        if status == 429:
            wait = _retry_after(chain)
            return RateLimited(f"{name} is rate-limiting requests: {said}. Try again "
                               f"{f'in {wait} s' if wait else 'shortly'}.")
        if isinstance(status, int) and status >= 500:
            return ServerBusy(f"{name} failed ({status}): {said}; try again shortly.")
        if isinstance(status, int) and status >= 400:
            return BadRequest(f"{name} refused the request ({status}): {said}")
        return ProviderError(f"unexpected error from {name}: {said or type(error).__name__}")


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and what caused it, outermost first: litellm wraps the openai SDK's, which wraps httpx's."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(seen) < 32:
        seen.add(id(current))
        yield current
        current = getattr(current, "original_exception", None) or current.__cause__ or current.__context__


def _named(error: BaseException, *names: str) -> bool:
    # The openai SDK is litellm's dependency, not Salon's: matched by class name so Salon need not import it.
    return any(cls.__name__ in names for cls in type(error).__mro__)


def _body(error: BaseException) -> Mapping[str, Any] | None:
    body = getattr(error, "body", None)
    if isinstance(body, Mapping):
        inner = body.get("error")
        return inner if isinstance(inner, Mapping) else body
    return None


def _error_event(chain: Sequence[BaseException]) -> BaseException | None:
    """An error the server sent as an SSE event: the openai SDK raises it as a plain APIError with its body."""
    for error in chain:
        if _body(error) is not None and getattr(error, "status_code", None) is None and _named(error, "APIError"):
            return error
    return None


def _code(chain: Sequence[BaseException]) -> str | None:
    for error in chain:
        body = _body(error)
        if body is not None and isinstance(body.get("code"), str):
            return body["code"]
    return None


def _server_text(chain: Sequence[BaseException]) -> str:
    """What the server said, without litellm's prefixes ("litellm.RateLimitError: RateLimitError: …")."""
    for error in chain:
        body = _body(error)
        if body is not None and isinstance(body.get("message"), str) and body["message"].strip():
            return body["message"].strip()
    text = str(chain[0]).split(" Original exception:", 1)[0]
    if "Exception - " in text:
        text = text.split("Exception - ", 1)[1]
    text = text.strip()
    if text[:2] in ("b'", 'b"'):
        # Some of litellm's providers quote the raw response body as a bytes literal.
        with contextlib.suppress(ValueError, SyntaxError, UnicodeDecodeError):
            text = ast.literal_eval(text).decode().strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return text
        inner = parsed.get("error") if isinstance(parsed, dict) else None
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
    return text


def _reason(chain: Sequence[BaseException]) -> str:
    text = " ".join(str(e) for e in chain)
    if any(sign in text for sign in ("Name or service not known", "nodename nor servname", "getaddrinfo",
                                     "Temporary failure in name resolution")):
        return "the host name does not resolve"
    if any(sign in text for sign in ("Connection refused", "Connect call failed", "All connection attempts failed")):
        return "connection refused"
    innermost = str(chain[-1]).strip()
    return innermost or type(chain[-1]).__name__


def _retry_after(chain: Sequence[BaseException]) -> str | None:
    for error in chain:
        response = getattr(error, "response", None)
        headers = getattr(response, "headers", None)
        if headers is not None and headers.get("retry-after"):
            return str(headers["retry-after"])
    return None


__all__ = ["NO_KEY", "CloudProvider", "Target", "cloud_params", "import_litellm",
           "import_litellm_async", "litellm_loaded"]

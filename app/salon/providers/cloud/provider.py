"""Cloud providers and OpenAI-compatible servers through litellm, which is imported only when first used.

Where each model is sent is resolved in :mod:`salon.providers.cloud.target`; litellm's errors become Salon's in
:mod:`salon.providers.cloud.errors`; litellm itself is loaded by
:mod:`salon.providers.cloud.litellm_loader`. This module streams. Importing it imports nothing of litellm.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import replace
from types import ModuleType
from typing import Any

import httpx

from salon.config.read import Config
from salon.errors import StreamInterrupted
from salon.providers.base import ChatMessage, CompletionRequest, ModelInfo
from salon.providers.cloud.errors import ErrorMapper
from salon.providers.cloud.litellm_loader import import_litellm, import_litellm_async, litellm_loaded
from salon.providers.cloud.target import NO_KEY, Target, cloud_params, resolve_target
from salon.providers.redirects import client_options
from salon.reply import REQUEST_SENT, Chunk, ToolCallPiece, Usage

__all__ = ["NO_KEY", "CloudProvider", "Target", "cloud_params", "import_litellm", "import_litellm_async",
           "litellm_loaded"]


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
        return resolve_target(self.config, litellm, ref)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        litellm = await import_litellm_async()
        target = self.target(litellm, request.model)
        settings = self.config.providers.get(target.provider)
        if request.stream and settings is not None and not settings.stream:
            # A server that cannot stream (config.toml says so) is asked for the whole reply: one chunk.
            request = replace(request, stream=False)
        errors = ErrorMapper(litellm, target)
        messages = [openai_message(m) for m in request.messages]
        kwargs = self._arguments(target, request, messages)
        yield REQUEST_SENT  # the reply is timed from here, not from before litellm's import
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

    def _arguments(self, target: Target, request: CompletionRequest, messages: list[dict[str, Any]]
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
        if request.tools:
            kwargs["tools"] = [tool.wire() for tool in request.tools]
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

            # openai's stubs name its own build of httpx; the client litellm brings is the same class at run time.
            client = openai.AsyncOpenAI(api_key=key, base_url=target.api_base, max_retries=0,
                                        http_client=httpx.AsyncClient(**client_options(target.provider)))  # type: ignore[arg-type]
            self._clients[(target.api_base, key)] = client
        return client

    async def _chunks(self, target: Target, response: Any, errors: ErrorMapper) -> AsyncGenerator[Chunk, None]:
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
            calls = _tool_pieces(getattr(delta, "tool_calls", None))
            if text or thinking or calls:
                yield Chunk(text=text, thinking=thinking, tool_calls=calls)
        yield Chunk(finish_reason=finish_reason or "stop",
                    usage=_stream_usage(final_usage, _reported_usage(response)),
                    model=_served_ref(target, served_model))

    def _whole(self, litellm: ModuleType, target: Target, response: Any, messages: list[dict[str, Any]],
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
                     model=_served_ref(target, getattr(response, "model", None)),
                     tool_calls=_tool_pieces(getattr(message, "tool_calls", None)))


def openai_message(message: ChatMessage) -> dict[str, Any]:
    """One turn in the OpenAI chat shape litellm takes: tool calls with arguments as text, results by call id."""
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        wire["content"] = message.content or None
        wire["tool_calls"] = [{"id": call.id, "type": "function",
                               "function": {"name": call.name, "arguments": _json_text(call.arguments)}}
                              for call in message.tool_calls]
    if message.role == "tool":
        wire["tool_call_id"] = message.tool_call_id
        if message.tool_name:
            wire["name"] = message.tool_name
    return wire


def _json_text(arguments: str) -> str:
    # Servers may refuse a history whose arguments are not JSON; what the model sent goes back wrapped, readable.
    try:
        json.loads(arguments)
    except ValueError:
        return json.dumps({"_unparsed": arguments}, ensure_ascii=False)
    return arguments


def _tool_pieces(calls: Any) -> tuple[ToolCallPiece, ...]:
    # OpenAI-style deltas: id and name on a call's first piece, arguments as text pieces, `index` says which call.
    pieces = []
    for position, call in enumerate(calls or ()):
        function = getattr(call, "function", None)
        index = getattr(call, "index", None)
        pieces.append(ToolCallPiece(
            index=index if isinstance(index, int) else position,
            id=getattr(call, "id", None) or None,
            name=getattr(function, "name", None) or None,
            arguments=getattr(function, "arguments", None) or "",
        ))
    return tuple(pieces)


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

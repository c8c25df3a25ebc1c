"""Ollama through its official client and native ``/api/chat`` (not the ``/v1`` compatibility layer)."""

from __future__ import annotations

import itertools
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import httpx

from salon.config.read import OllamaEndpoint, parse_host
from salon.errors import (
    BadRequest,
    ModelNotFound,
    ProviderError,
    ServerBusy,
    ServerUnreachable,
    StreamInterrupted,
    StreamStalled,
    ThinkingUnsupported,
    ToolsUnsupported,
)
from salon.ids import new_id
from salon.providers.base import ChatMessage, CompletionRequest, ModelInfo
from salon.providers.network import network_reason
from salon.providers.redirects import client_options
from salon.reply import Chunk, ToolCallPiece, Usage

if TYPE_CHECKING:
    from ollama import ChatResponse


def _import_ollama() -> ModuleType:
    # `import ollama` builds a module-level client from OLLAMA_HOST and raises ValueError from inside the import
    # for a value it cannot parse (127.0.0.1:99999, " 127.0.0.1:11434 "), even when config.toml names a good host.
    # Salon never uses that client and checks the variable itself (salon.config.read.parse_host), so the import runs
    # without it.
    if "ollama" in sys.modules:
        return sys.modules["ollama"]
    saved = os.environ.pop("OLLAMA_HOST", None)
    try:
        import ollama as module
    finally:
        if saved is not None:
            os.environ["OLLAMA_HOST"] = saved
    return module


ollama = _import_ollama()

PREFIX = "ollama/"

# Salon's parameter names (OpenAI's, so one agent file suits every provider) to Ollama's option names.
_OPTION_NAMES = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "seed": "seed",
    "stop": "stop",
    "max_tokens": "num_predict",
    "num_predict": "num_predict",
    "num_ctx": "num_ctx",
    "repeat_penalty": "repeat_penalty",
    "repeat_last_n": "repeat_last_n",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
    "num_gpu": "num_gpu",
    "num_thread": "num_thread",
    "mirostat": "mirostat",
    "mirostat_tau": "mirostat_tau",
    "mirostat_eta": "mirostat_eta",
    "typical_p": "typical_p",
}


def ollama_options(params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``options`` object of a chat request; keys Ollama does not know are left out."""
    options = {_OPTION_NAMES[key]: value for key, value in params.items() if key in _OPTION_NAMES}
    if isinstance(options.get("stop"), str):
        options["stop"] = [options["stop"]]
    return options


class OllamaProvider:
    """Completions from an Ollama server; every failure leaves as a :class:`ProviderError`."""

    label = "ollama"

    def __init__(self, host: str | OllamaEndpoint, connect_timeout: float = 5.0, read_timeout: float = 120.0) -> None:
        endpoint = host if isinstance(host, OllamaEndpoint) else parse_host(host, "the Ollama host")
        # What messages show (and the store keeps): the password of a user:password@ host is never in it.
        self.host = endpoint.shown
        self.read_timeout = read_timeout
        timeout = httpx.Timeout(connect=connect_timeout, read=read_timeout, write=connect_timeout,
                                pool=connect_timeout)
        options: dict[str, Any] = client_options("Ollama")
        if endpoint.username is not None or endpoint.password is not None:
            # As a proxy in front of Ollama expects it; the URL itself carries no credentials.
            options["auth"] = httpx.BasicAuth(endpoint.username or "", endpoint.password or "")
        self._client = ollama.AsyncClient(host=endpoint.url, timeout=timeout, **options)
        self._capabilities: dict[str, tuple[str, ...]] = {}

    async def aclose(self) -> None:
        await self._client.close()

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        params = dict(request.params)
        kwargs: dict[str, Any] = {"options": ollama_options(params) or None}
        if "keep_alive" in params:
            kwargs["keep_alive"] = params["keep_alive"]
        if "think" in params:
            kwargs["think"] = await self._think_argument(request.model, params["think"])
        if request.tools:
            kwargs["tools"] = [tool.wire() for tool in request.tools]
        messages = [ollama_message(m) for m in request.messages]
        numbers = itertools.count()
        with self._errors(request.model):
            if not request.stream:
                response = await self._client.chat(request.model, messages, stream=False, **kwargs)
                yield self._chunk(response, numbers)
                return
            parts = await self._client.chat(request.model, messages, stream=True, **kwargs)
            try:
                async for part in parts:
                    yield self._chunk(part, numbers)
            finally:
                await parts.aclose()

    async def _think_argument(self, model: str, wanted: Any) -> Any:
        # Ollama rejects `think` for models without the capability, and turns thinking on when it is omitted for
        # models with it; so send it only where the model has it, and say so clearly where the agent wants it.
        if "thinking" in await self.capabilities(model):
            return wanted
        if wanted:
            raise ThinkingUnsupported(model)
        return None

    async def capabilities(self, model: str) -> tuple[str, ...]:
        if model not in self._capabilities:
            with self._errors(model):
                shown = await self._client.show(model)
            self._capabilities[model] = tuple(shown.capabilities or ())
        return self._capabilities[model]

    async def list_models(self) -> list[ModelInfo]:
        with self._errors(""):
            listed = await self._client.list()
        models = []
        for model in listed.models:
            details = model.details
            summary = " ".join(
                part for part in (details and details.parameter_size, details and details.quantization_level) if part
            )
            models.append(ModelInfo(ref=PREFIX + (model.model or ""), name=model.model or "", size=model.size,
                                    details=summary))
        return models

    async def pull(self, model: str) -> AsyncIterator[tuple[str, int | None, int | None]]:
        """Download ``model``, yielding (status, completed bytes, total bytes) as Ollama reports them."""
        with self._errors(model):
            progress = await self._client.pull(model, stream=True)
            async for update in progress:
                yield update.status or "", update.completed, update.total

    def _chunk(self, part: ChatResponse, numbers: Iterator[int]) -> Chunk:
        message = part.message
        calls = _tool_pieces(message.tool_calls or (), numbers)
        if not part.done:
            return Chunk(text=message.content or "", thinking=message.thinking or "", tool_calls=calls)
        usage = None
        if part.eval_count is not None or part.prompt_eval_count is not None:
            usage = Usage(input_tokens=part.prompt_eval_count, output_tokens=part.eval_count)
        return Chunk(
            text=message.content or "",
            thinking=message.thinking or "",
            finish_reason=part.done_reason or "stop",
            usage=usage,
            eval_seconds=part.eval_duration / 1e9 if part.eval_duration else None,
            model=PREFIX + part.model if part.model else None,
            tool_calls=calls,
        )


    def _errors(self, model: str) -> _ErrorMapper:
        return _ErrorMapper(self, model)


def _tool_pieces(calls: Any, numbers: Iterator[int]) -> tuple[ToolCallPiece, ...]:
    # Ollama sends each call whole (arguments an object) and gives it no id: number them across the stream.
    pieces = []
    for call in calls:
        index = next(numbers)
        arguments = json.dumps(dict(call.function.arguments or {}), ensure_ascii=False)
        pieces.append(ToolCallPiece(index, new_id("call"), call.function.name, arguments))
    return tuple(pieces)


def ollama_message(message: ChatMessage) -> dict[str, Any]:
    """One turn in ``/api/chat``'s shape: tool calls with their arguments as objects, results by ``tool_name``."""
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        wire["tool_calls"] = [{"function": {"name": call.name, "arguments": _arguments_object(call.arguments)}}
                              for call in message.tool_calls]
    if message.role == "tool" and message.tool_name:
        wire["tool_name"] = message.tool_name
    return wire


def _arguments_object(arguments: str) -> dict[str, Any]:
    # Ollama takes arguments as an object; text that was never valid JSON goes back as what it was.
    try:
        parsed = json.loads(arguments or "{}")
    except ValueError:
        return {"_unparsed": arguments}
    return parsed if isinstance(parsed, dict) else {"_value": parsed}


class _ErrorMapper:
    """Turns what the ollama client and httpx raise into Salon's errors, with the host and model named."""

    def __init__(self, provider: OllamaProvider, model: str) -> None:
        self.provider = provider
        self.model = model

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> Literal[False]:
        if error is None or isinstance(error, ProviderError | GeneratorExit) or not isinstance(error, Exception):
            return False
        raise self.translate(error) from error

    def translate(self, error: Exception) -> ProviderError:
        host = self.provider.host
        match error:
            case ollama.ResponseError(status_code=-1):
                return StreamInterrupted(f"Ollama stopped the reply: {error.error}")
            case ollama.ResponseError(status_code=404) if "model" in error.error or "manifest" in error.error:
                return ModelNotFound(self.model)
            case ollama.ResponseError(status_code=404):
                # Something answers at the host, but not Ollama's API: a wrong port or another web server.
                return ServerUnreachable(host, "it answers, but not as Ollama: 404 for the chat API")
            case ollama.ResponseError(status_code=400) if "thinking" in error.error:
                return ThinkingUnsupported(self.model)
            case ollama.ResponseError(status_code=400) if "does not support tools" in error.error:
                return ToolsUnsupported(self.model, f"Ollama said: {error.error}")
            case ollama.ResponseError(status_code=503 | 429):
                return ServerBusy(f"Ollama at {host} is busy ({error.status_code}: {error.error}); try again "
                                  "shortly.")
            case ollama.ResponseError(status_code=code) if code >= 500:
                busy = ServerBusy(f"Ollama at {host} failed ({code}): {error.error}")
                return busy
            case ollama.ResponseError():
                return BadRequest(f"Ollama refused the request ({error.status_code}): {error.error}")
            case httpx.ConnectTimeout():
                return ServerUnreachable(host, "timed out connecting")
            case httpx.ConnectError() | ConnectionError():
                return ServerUnreachable(host, _reason(error))
            case httpx.ReadTimeout():
                return StreamStalled(self.provider.read_timeout)
            case httpx.RemoteProtocolError() | httpx.ReadError():
                return StreamInterrupted(f"the connection to Ollama at {host} was cut mid-reply ({_reason(error)})")
            case json.JSONDecodeError() | ValueError():
                return StreamInterrupted(f"Ollama at {host} sent something that is not Ollama's API: {error}")
            case httpx.HTTPError():
                return StreamInterrupted(f"talking to Ollama at {host} failed: {_reason(error)}")
        return ProviderError(f"unexpected error from Ollama at {host}: {error!r}")


def _reason(error: BaseException) -> str:
    return network_reason([error])

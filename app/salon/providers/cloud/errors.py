"""litellm's exceptions as Salon's error types, keeping the server's own words and never a key."""

from __future__ import annotations

import ast
import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from types import ModuleType
from typing import Any

import httpx

from salon.errors import (
    AuthError,
    BadRequest,
    ContextTooLong,
    ModelNotFound,
    ProviderError,
    ProviderStalled,
    ProviderUnreachable,
    RateLimited,
    RedirectRefused,
    ServerBusy,
    StreamInterrupted,
    ToolsUnsupported,
)
from salon.providers.cloud.target import Target
from salon.providers.network import network_reason


class ErrorMapper:
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
            return ProviderUnreachable(name, target.api_base, network_reason(chain))
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
        if isinstance(status, int) and status >= 400 and _refuses_tools(said):
            return ToolsUnsupported(target.ref, f"{name} said: {said}")
        if isinstance(status, int) and status >= 400:
            return BadRequest(f"{name} refused the request ({status}): {said}")
        return ProviderError(f"unexpected error from {name}: {said or type(error).__name__}")


def _refuses_tools(said: str) -> bool:
    # Ollama's OpenAI layer: "… does not support tools"; vLLM and llama.cpp's server: "tool choice"/"tools" not
    # supported or enabled. A refusal that names tools is the model's, not the request's shape.
    lowered = said.lower()
    return "tool" in lowered and any(word in lowered for word in ("not support", "unsupported", "not enabled"))


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


def _retry_after(chain: Sequence[BaseException]) -> str | None:
    for error in chain:
        response = getattr(error, "response", None)
        headers = getattr(response, "headers", None)
        if headers is not None and headers.get("retry-after"):
            return str(headers["retry-after"])
    return None


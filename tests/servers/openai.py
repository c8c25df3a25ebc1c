"""A real HTTP server that speaks the OpenAI chat-completions API, told per test how to behave.

    with OpenAIServer(api_key="sk-test") as server:
        server.script(Scripted(text="Hello there.", rate=200))
        ...  # point [providers.openai] api_base at server.api_base

It serves what OpenAI-compatible servers (OpenAI itself, LM Studio, vLLM, llama.cpp's server) serve:
``/v1/chat/completions`` streamed as SSE ending ``data: [DONE]`` (with a usage chunk when the client asks for one
through ``stream_options.include_usage``) or as one JSON object, ``/v1/models``, and OpenAI's error bodies. Every
request is recorded with its headers, so a test can check which key and extra headers were sent.

It can also run on its own (``python -m tests.servers.openai``), scripted over HTTP through ``/_salon/script``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from tests.servers._http import Handler, LoopbackServer, pace
from tests.servers.ollama import tokenize

# OpenAI's own error ``type`` and ``code`` for each status it answers with.
_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}

CONTEXT_TOO_LONG = ("This model's maximum context length is 8192 tokens. However, your messages resulted in "
                    "9001 tokens. Please reduce the length of the messages.")


@dataclass
class Scripted:
    """How the server answers one ``/v1/chat/completions`` request."""

    text: str | None = None          # None: echo the last user message
    tokens: list[str] | None = None  # exact token boundaries, overriding ``text``
    reasoning: str = ""              # sent as ``delta.reasoning_content`` before the text, as DeepSeek/vLLM do
    rate: float | None = None        # tokens per second; None sends as fast as the socket takes them
    first_token_delay: float = 0.0
    status: int | None = None        # answer with this HTTP status and an OpenAI error body instead
    error: str = "The server had an error while processing your request."
    error_code: str | None = None    # overrides the ``code`` OpenAI sends with ``status``
    retry_after: float | None = None  # a Retry-After header on an error answer
    error_after: int | None = None   # after this many tokens, send ``data: {"error": …}`` (status stays 200)
    cut_after: int | None = None     # after this many tokens, drop the connection
    stall_after: int | None = None   # after this many tokens, go silent for ``stall_seconds``
    stall_seconds: float = 30.0
    malformed_after: int | None = None
    finish_reason: str = "stop"
    usage: bool = True               # report token counts (when the client asks for them, as OpenAI does)
    prompt_tokens: int = 26
    done: bool = True                # end the stream with ``data: [DONE]``
    # Tool calls after the text: {"name": …, "arguments": "JSON text"}; streamed as OpenAI does, id and name
    # first, then the arguments in ``argument_pieces`` pieces; the finish reason becomes "tool_calls".
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    argument_pieces: int = 3
    unsupported_tools: bool = False  # answer a request carrying tools with 400, as a model without them does

    def token_list(self, prompt: str) -> list[str]:
        if self.tokens is not None:
            return list(self.tokens)
        return tokenize(self.text if self.text is not None else f"You said: {prompt}")


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it; header names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def bearer(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth[len("Bearer "):] if auth.startswith("Bearer ") else None


DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "qwen2.5-7b-instruct", "llama-3.2-3b-instruct")


@dataclass
class ServerState:
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    api_key: str | None = None       # None: any key, or none, is accepted (as LM Studio does)
    replies: deque[Scripted] = field(default_factory=deque)
    default: Scripted = field(default_factory=Scripted)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_reply(self) -> Scripted:
        with self.lock:
            return self.replies.popleft() if self.replies else self.default


class OpenAIHandler(Handler):
    server: OpenAIServer

    def do_GET(self) -> None:
        state = self.server.state
        if self.path == "/_salon/requests":
            with state.lock:
                self.send_json(200, [asdict(r) for r in state.requests])
            return
        self.record({})
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            if self.refused():
                return
            self.send_json(200, {"object": "list", "data": [
                {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "salon-tests"}
                for name in state.models]})
        else:
            self.send_error_body(404, f"Invalid URL (GET {self.path})", code="unknown_url")

    def do_POST(self) -> None:
        body = self.read_json()
        state = self.server.state
        if self.path == "/_salon/script":
            with state.lock:
                state.replies.extend(Scripted(**item) for item in body.get("replies", []))
                if "default" in body:
                    state.default = Scripted(**body["default"])
                if "api_key" in body:
                    state.api_key = body["api_key"]
            self.send_json(200, {"queued": len(state.replies)})
            return
        self.record(body)
        if self.path.rstrip("/") in ("/v1/chat/completions", "/chat/completions"):
            if not self.refused():
                self.chat(body)
        else:
            self.send_error_body(404, f"Invalid URL (POST {self.path})", code="unknown_url")

    def record(self, body: dict[str, Any]) -> None:
        recorded = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        with self.server.state.lock:
            self.server.state.requests.append(recorded)

    def refused(self) -> bool:
        """Answer 401 as OpenAI does when a key is required and the right one was not sent."""
        wanted = self.server.state.api_key
        if wanted is None or self.headers.get("Authorization") == f"Bearer {wanted}":
            return False
        sent = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        # OpenAI shows only the ends of a wrong key; so does this server.
        shown = f"{sent[:3]}***{sent[-4:]}" if len(sent) > 8 else "***"
        self.send_error_body(401, f"Incorrect API key provided: {shown}. You can find your API key at "
                                  "https://platform.openai.com/account/api-keys.")
        return True

    def chat(self, body: dict[str, Any]) -> None:
        state = self.server.state
        name = body.get("model", "")
        if name not in state.models:
            self.send_error_body(404, f"The model `{name}` does not exist or you do not have access to it.")
            return
        reply = state.next_reply()
        if reply.status is not None:
            self.send_error_body(reply.status, reply.error, code=reply.error_code, retry_after=reply.retry_after)
            return
        if reply.unsupported_tools and body.get("tools"):
            # What vLLM and Ollama's OpenAI layer answer for a model that cannot call tools.
            self.send_error_body(400, f"{name} does not support tools")
            return
        prompt = next((m.get("content") for m in reversed(body.get("messages", [])) if m.get("role") == "user"),
                      "")
        tokens = reply.token_list(prompt if isinstance(prompt, str) else json.dumps(prompt))
        if not body.get("stream"):
            self.complete(name, reply, tokens)
            return
        wants_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        self.stream(name, reply, tokenize(reply.reasoning), tokens, wants_usage)

    def complete(self, name: str, reply: Scripted, tokens: list[str]) -> None:
        if reply.first_token_delay and self.server.stopping.wait(reply.first_token_delay):
            return
        message: dict[str, Any] = {"role": "assistant", "content": "".join(tokens)}
        if reply.reasoning:
            message["reasoning_content"] = reply.reasoning
        if reply.tool_calls:
            message["tool_calls"] = [{"id": f"call_{i}_{uuid.uuid4().hex[:8]}", "type": "function",
                                      "function": {"name": c["name"], "arguments": c["arguments"]}}
                                     for i, c in enumerate(reply.tool_calls)]
        finish = "tool_calls" if reply.tool_calls else reply.finish_reason
        payload: dict[str, Any] = {
            "id": _id(), "object": "chat.completion", "created": int(time.time()), "model": name,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        }
        if reply.usage:
            payload["usage"] = _usage(reply, tokenize(reply.reasoning) + tokens)
        self.send_json(200, payload)

    def stream(self, name: str, reply: Scripted, reasoning: list[str], tokens: list[str],
               wants_usage: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        completion_id, created = _id(), int(time.time())

        def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
            chunk = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": name,
                     "system_fingerprint": "fp_salon", "choices": [
                         {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **extra}
            return b"data: " + json.dumps(chunk).encode() + b"\n\n"

        try:
            if reply.first_token_delay and self.server.stopping.wait(reply.first_token_delay):
                return
            self.write_chunk(event({"role": "assistant", "content": ""}))
            started = time.monotonic()
            pieces = [("reasoning_content", t) for t in reasoning] + [("content", t) for t in tokens]
            for sent, (kind, piece) in enumerate(pieces):
                error = {"error": {"message": reply.error, "type": "server_error", "param": None,
                                   "code": reply.error_code}}
                error_event = b"data: " + json.dumps(error).encode() + b"\n\n"
                malformed = b'data: {"id": "' + completion_id.encode() + b'", "choices": [{"delta": \n\n'
                if self.fault_at(sent, reply, error_event, malformed):
                    return
                pace(started, sent, reply.rate)
                self.write_chunk(event({kind: piece}))
            for delta in _tool_call_deltas(reply):
                self.write_chunk(event({"tool_calls": [delta]}))
            self.write_chunk(event({}, "tool_calls" if reply.tool_calls else reply.finish_reason))
            if wants_usage and reply.usage:
                # OpenAI's usage chunk: an empty ``choices`` list and the counts for the whole completion.
                usage_chunk = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                               "model": name, "system_fingerprint": "fp_salon", "choices": [],
                               "usage": _usage(reply, reasoning + tokens)}
                self.write_chunk(b"data: " + json.dumps(usage_chunk).encode() + b"\n\n")
            if reply.done:
                self.write_chunk(b"data: [DONE]\n\n")
            self.end_chunked()
        except (BrokenPipeError, ConnectionResetError):
            return  # the client hung up (cancelled): what a real server sees too

    def send_error_body(self, status: int, message: str, *, code: str | None = None,
                        retry_after: float | None = None) -> None:
        kind, default_code = _ERROR_KINDS.get(status, ("server_error" if status >= 500 else "invalid_request_error",
                                                       None))
        payload = {"error": {"message": message, "type": kind, "param": None, "code": code or default_code}}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if retry_after is not None:
            self.send_header("Retry-After", f"{retry_after:g}")
        self.end_headers()
        self.wfile.write(data)


def _tool_call_deltas(reply: Scripted) -> list[dict[str, Any]]:
    """OpenAI's streamed tool calls: per index, id and name first with empty arguments, then argument pieces."""
    deltas = []
    for index, call in enumerate(reply.tool_calls):
        deltas.append({"index": index, "id": f"call_{index}_{uuid.uuid4().hex[:8]}", "type": "function",
                       "function": {"name": call["name"], "arguments": ""}})
        arguments = call["arguments"]
        size = max(1, -(-len(arguments) // max(1, reply.argument_pieces)))
        deltas += [{"index": index, "function": {"arguments": arguments[at:at + size]}}
                   for at in range(0, len(arguments), size)]
    return deltas


def _id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def _usage(reply: Scripted, generated: list[str]) -> dict[str, int]:
    completion = len(generated)
    return {"prompt_tokens": reply.prompt_tokens, "completion_tokens": completion,
            "total_tokens": reply.prompt_tokens + completion}


class OpenAIServer(LoopbackServer):
    def __init__(self, port: int = 0, api_key: str | None = None) -> None:
        super().__init__(OpenAIHandler, port)
        self.state = ServerState(api_key=api_key)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a cancelled reply, a test's cut) is ordinary here, not worth a traceback.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def api_base(self) -> str:
        """The value for ``api_base``: OpenAI's clients add ``/chat/completions`` to it."""
        return f"{self.url}/v1"

    def script(self, *replies: Scripted) -> OpenAIServer:
        """Queue replies for the next chat requests, in order; after them the default reply."""
        with self.state.lock:
            self.state.replies.extend(replies)
        return self

    def set_default(self, reply: Scripted) -> None:
        self.state.default = reply

    def require_key(self, key: str | None) -> None:
        self.state.api_key = key

    @property
    def requests(self) -> list[Recorded]:
        with self.state.lock:
            return list(self.state.requests)

    @property
    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.rstrip("/").endswith("/chat/completions")]


def script_remote(url: str, *replies: Scripted, default: Scripted | None = None, require_key: bool = False,
                  api_key: str | None = None) -> None:
    """Queue replies on a server running in another process; with ``require_key``, set the key it demands."""
    import urllib.request

    payload: dict[str, Any] = {"replies": [asdict(r) for r in replies]}
    if default is not None:
        payload["default"] = asdict(default)
    if require_key:
        payload["api_key"] = api_key
    request = urllib.request.Request(f"{url}/_salon/script", json.dumps(payload).encode(),
                                     {"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=5).read()


def remote_requests(url: str) -> list[Recorded]:
    """The requests a server in another process has recorded."""
    import urllib.request

    with urllib.request.urlopen(f"{url}/_salon/requests", timeout=5) as answer:
        return [Recorded(**item) for item in json.loads(answer.read())]


def main() -> None:
    parser = argparse.ArgumentParser(description="A loopback server speaking OpenAI's chat API, for tests and benches")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default=None, help="require this key (default: accept any, as LM Studio does)")
    args = parser.parse_args()
    server = OpenAIServer(args.port, api_key=args.api_key)
    print(server.port, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main()

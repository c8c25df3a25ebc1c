"""A real HTTP server that speaks Ollama's native API, told per test how to behave.

    with OllamaServer() as server:
        server.script(Scripted(text="Hello there.", rate=200))
        ...  # point OLLAMA_HOST at server.url

It can also run on its own (``python -m tests.servers.ollama``), scripted over HTTP through ``/_salon/script``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from tests.servers._http import Handler, LoopbackServer, pace

_TOKEN = re.compile(r"\s*\S+|\s+")


def tokenize(text: str) -> list[str]:
    """Split text into word-sized tokens that join back into exactly ``text``."""
    return _TOKEN.findall(text)


@dataclass
class Scripted:
    """How the server answers one ``/api/chat`` request."""

    text: str | None = None          # None: echo the last user message
    tokens: list[str] | None = None  # exact token boundaries, overriding ``text``
    thinking: str = ""
    rate: float | None = None        # tokens per second; None sends as fast as the socket takes them
    first_token_delay: float = 0.0
    status: int | None = None        # answer with this HTTP status and ``error`` instead of streaming
    error: str = "internal error"
    error_after: int | None = None   # after this many tokens, send an error line (status stays 200)
    cut_after: int | None = None     # after this many tokens, drop the connection
    stall_after: int | None = None   # after this many tokens, go silent for ``stall_seconds``
    stall_seconds: float = 30.0
    malformed_after: int | None = None
    done_delay: float = 0.0          # after the last token, wait this long before the final ``done`` line
    # After the last token, hold the final ``done`` line until the test sets this: a reply that stays
    # "streaming" for exactly as long as a test needs, however slow the machine is.
    hold_final: threading.Event | None = None
    done_reason: str = "stop"
    usage: bool = True               # send eval_count / prompt_eval_count and durations on the final line
    reported_model: str | None = None  # the "model" the lines report (a server may name it anything); default: asked
    # Tool calls after the text, one per line as Ollama streams them: {"name": …, "arguments": {…}}.
    tool_calls: list[dict[str, Any]] = field(default_factory=list)

    def token_list(self, prompt: str) -> list[str]:
        if self.tokens is not None:
            return list(self.tokens)
        return tokenize(self.text if self.text is not None else f"You said: {prompt}")


@dataclass
class Model:
    name: str
    capabilities: tuple[str, ...] = ("completion",)
    size: int = 2_019_393_189
    parameter_size: str = "3.2B"
    quantization: str = "Q4_K_M"


DEFAULT_MODELS = (Model("llama3.2"), Model("qwen3", ("completion", "thinking"), 5_200_000_000, "8.2B"))


@dataclass
class ServerState:
    models: dict[str, Model] = field(default_factory=lambda: {m.name: m for m in DEFAULT_MODELS})
    replies: deque[Scripted] = field(default_factory=deque)
    default: Scripted = field(default_factory=Scripted)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    finished_at: list[float] = field(default_factory=list)

    def next_reply(self) -> Scripted:
        with self.lock:
            return self.replies.popleft() if self.replies else self.default


class OllamaHandler(Handler):
    server: OllamaServer

    def do_GET(self) -> None:
        state = self.server.state
        if self.path == "/api/tags":
            self.send_json(200, {"models": [_describe(m) for m in state.models.values()]})
        elif self.path == "/api/ps":
            self.send_json(200, {"models": []})
        elif self.path == "/api/version":
            self.send_json(200, {"version": "0.12.0"})
        elif self.path == "/_salon/requests":
            self.send_json(200, state.requests)
        elif self.path == "/_salon/finished":
            self.send_json(200, state.finished_at)
        elif self.path == "/":
            body = b"Ollama is running"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_json(404, {"error": "not found"})

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        body = self.read_json()
        state = self.server.state
        if self.path == "/api/chat":
            with state.lock:
                state.requests.append(body)
            self.chat(body)
        elif self.path == "/api/show":
            model = state.models.get(_bare(body.get("model") or body.get("name", "")))
            if model is None:
                self.send_json(404, {"error": f"model '{body.get('model')}' not found"})
            else:
                self.send_json(200, {"modelfile": "", "parameters": "", "template": "{{ .Prompt }}",
                                     "details": _describe(model)["details"], "model_info": {},
                                     "capabilities": list(model.capabilities)})
        elif self.path == "/api/pull":
            self.pull(body)
        elif self.path == "/_salon/script":
            with state.lock:
                state.replies.extend(Scripted(**item) for item in body.get("replies", []))
                if "default" in body:
                    state.default = Scripted(**body["default"])
            self.send_json(200, {"queued": len(state.replies)})
        else:
            self.send_json(404, {"error": "not found"})

    def chat(self, body: dict[str, Any]) -> None:
        state = self.server.state
        name = _bare(body.get("model", ""))
        model = state.models.get(name)
        if model is None:
            self.send_json(404, {"error": f"model '{name}' not found"})
            return
        if body.get("think") is not None and "thinking" not in model.capabilities:
            self.send_json(400, {"error": f'"{name}" does not support thinking'})
            return
        if body.get("tools") and "tools" not in model.capabilities:
            # Ollama's own words for a model whose template has no tool calls.
            self.send_json(400, {"error": f"registry.ollama.ai/library/{name}:latest does not support tools"})
            return
        reply = state.next_reply()
        if reply.status is not None:
            self.send_json(reply.status, {"error": reply.error})
            return
        prompt = next((m["content"] for m in reversed(body.get("messages", [])) if m.get("role") == "user"), "")
        tokens = reply.token_list(prompt)
        thinking = tokenize(reply.thinking)
        if not body.get("stream", True):
            self.send_json(200, self.final(name, reply, tokens, "".join(tokens), "".join(thinking)))
            return
        self.stream(name, reply, thinking, tokens)

    def stream(self, name: str, reply: Scripted, thinking: list[str], tokens: list[str]) -> None:
        self.start_chunked("application/x-ndjson")
        if reply.first_token_delay and self.server.stopping.wait(reply.first_token_delay):
            return
        started = time.monotonic()
        pieces: list[tuple[str, Any]] = [("thinking", t) for t in thinking] + [("content", t) for t in tokens]
        pieces += [("tool_call", call) for call in reply.tool_calls]
        for sent, (kind, piece) in enumerate(pieces):
            error_line = json.dumps({"error": reply.error}).encode() + b"\n"
            malformed = b'{"model": "' + name.encode() + b'", "message": {"content": \n'
            if self.fault_at(sent, reply, error_line, malformed):
                return
            pace(started, sent, reply.rate)
            message = {"role": "assistant", "content": piece if kind == "content" else ""}
            if kind == "thinking":
                message["thinking"] = piece
            if kind == "tool_call":
                message["tool_calls"] = [{"function": {"name": piece["name"], "arguments": piece["arguments"]}}]
            line = {"model": reply.reported_model or name, "created_at": _now(), "message": message, "done": False}
            try:
                self.write_chunk(json.dumps(line).encode() + b"\n")
            except (BrokenPipeError, ConnectionResetError):
                return  # the client hung up (cancelled): what a real server sees too
        if reply.done_delay and self.server.stopping.wait(reply.done_delay):
            return
        while reply.hold_final is not None and not reply.hold_final.wait(0.05):
            if self.server.stopping.is_set():
                return
        final = self.final(name, reply, tokens, "", "")
        final["eval_duration"] = max(int((time.monotonic() - started) * 1e9), 1) if reply.usage else None
        try:
            self.write_chunk(json.dumps({k: v for k, v in final.items() if v is not None}).encode() + b"\n")
            self.end_chunked()
        except (BrokenPipeError, ConnectionResetError):
            return
        with self.server.state.lock:
            self.server.state.finished_at.append(time.time())

    def final(self, name: str, reply: Scripted, tokens: list[str], text: str, thinking: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if thinking:
            message["thinking"] = thinking
        if text and reply.tool_calls:  # a whole (not streamed) answer carries its calls
            message["tool_calls"] = [{"function": {"name": c["name"], "arguments": c["arguments"]}}
                                     for c in reply.tool_calls]
        line: dict[str, Any] = {"model": reply.reported_model or name, "created_at": _now(), "message": message,
                                "done": True, "done_reason": reply.done_reason}
        if reply.usage:
            line.update(total_duration=1_000_000, load_duration=1_000, prompt_eval_count=26,
                        prompt_eval_duration=10_000_000, eval_count=len(tokens), eval_duration=len(tokens) * 10**7)
        return line

    def pull(self, body: dict[str, Any]) -> None:
        name = _bare(body.get("model") or body.get("name", ""))
        if name.startswith("missing"):
            self.send_json(404, {"error": "pull model manifest: file does not exist"})
            return
        self.start_chunked("application/x-ndjson")
        total = 1_000_000
        steps = [{"status": "pulling manifest"}]
        steps += [{"status": "pulling 8eeb52dfb3bb", "digest": "sha256:8eeb", "total": total, "completed": done}
                  for done in range(0, total + 1, total // 4)]
        steps += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"}, {"status": "success"}]
        for step in steps:
            self.write_chunk(json.dumps(step).encode() + b"\n")
            time.sleep(0.01)
        self.end_chunked()
        with self.server.state.lock:
            self.server.state.models.setdefault(name, Model(name))


def _bare(model: str) -> str:
    return model[:-len(":latest")] if model.endswith(":latest") else model


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


def _describe(model: Model) -> dict[str, Any]:
    return {"name": f"{model.name}:latest", "model": f"{model.name}:latest", "modified_at": "2026-01-01T00:00:00Z",
            "size": model.size, "digest": "0" * 64,
            "details": {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
                        "parameter_size": model.parameter_size, "quantization_level": model.quantization}}


class OllamaServer(LoopbackServer):
    def __init__(self, port: int = 0) -> None:
        super().__init__(OllamaHandler, port)
        self.state = ServerState()

    @property
    def host(self) -> str:
        """The value for ``OLLAMA_HOST``."""
        return f"127.0.0.1:{self.port}"

    def script(self, *replies: Scripted) -> OllamaServer:
        """Queue replies for the next chat requests, in order; after them the default reply."""
        with self.state.lock:
            self.state.replies.extend(replies)
        return self

    def set_default(self, reply: Scripted) -> None:
        self.state.default = reply

    def add_model(self, name: str, *capabilities: str) -> None:
        self.state.models[name] = Model(name, capabilities or ("completion",))

    @property
    def requests(self) -> list[dict[str, Any]]:
        return list(self.state.requests)


def script_remote(url: str, *replies: Scripted, default: Scripted | None = None) -> None:
    """Queue replies on a server running in another process."""
    import urllib.request

    payload: dict[str, Any] = {"replies": [asdict(r) for r in replies]}
    if default is not None:
        payload["default"] = asdict(default)
    request = urllib.request.Request(f"{url}/_salon/script", json.dumps(payload).encode(),
                                     {"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=5).read()


def main() -> None:
    parser = argparse.ArgumentParser(description="A loopback server speaking Ollama's API, for tests and benches")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = OllamaServer(args.port)
    print(server.port, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main()

"""The routes of ``salon serve``: the Assistants-shaped API, the event stream, and the web page."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from salon.api import Session
from salon.errors import SalonError, UnknownAgent
from salon.runner.run import DECISIONS, Decision
from salon.serve import bodies, page, payloads
from salon.serve.auth import Guard
from salon.serve.recording import Threads
from salon.serve.runs import LiveRun, RunRegistry, ServerStopping, ThreadBusy
from salon.serve.sse import FRAMINGS, OPENAI_DONE, PING, Framing
from salon.store import ConversationNotFound, StoreError

MAX_BODY = 1024 * 1024  # bytes: a prompt, not an upload
BODY_TIMEOUT = 30.0     # seconds for a whole body to arrive (1 MiB over the slowest link worth serving)
MAX_LIST = 1000


class ApiError(Exception):
    """A refusal with a status and a message a client can act on; sent as ``{"error": {"message", "type"}}``."""

    def __init__(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.headers = status, kind, message, headers


@dataclass(slots=True)
class Services:
    session: Session
    threads: Threads
    runs: RunRegistry


def create_app(services: Services, *, token: str | None = None, loopback: bool = True,
               cors_origins: Iterable[str] = ()) -> Starlette:
    api = _Api(services)
    routes = [
        Route("/", api.page),
        Route("/v1/agents", api.list_agents),
        Route("/v1/agents/{agent_id}", api.get_agent),
        Route("/v1/threads", api.list_threads),
        Route("/v1/threads", api.create_thread, methods=["POST"]),
        Route("/v1/threads/{thread_id}", api.get_thread),
        Route("/v1/threads/{thread_id}/messages", api.list_messages),
        Route("/v1/threads/{thread_id}/messages", api.add_message, methods=["POST"]),
        Route("/v1/threads/{thread_id}/runs", api.create_run, methods=["POST"]),
        Route("/v1/threads/{thread_id}/runs/{run_id}", api.get_run),
        Route("/v1/threads/{thread_id}/runs/{run_id}/cancel", api.cancel_run, methods=["POST"]),
        Route("/v1/threads/{thread_id}/runs/{run_id}/decisions", api.decide, methods=["POST"]),
        Route("/v1/threads/{thread_id}/stream/{run_id}", api.stream),
    ]
    origins = list(cors_origins)
    middleware = [Middleware(Guard, token=token, loopback=loopback, cors_origins=origins)]
    if origins:
        # Outside the guard, so that a browser's preflight gets its answer.
        middleware.insert(0, Middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                                        allow_headers=["Authorization", "Content-Type"]))

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await services.runs.close()

    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                     exception_handlers={ApiError: _api_error, HTTPException: _http_error, StoreError: _store_error})


async def _api_error(_: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return _error(error.status, error.kind, error.message, error.headers)


async def _store_error(_: Request, error: Exception) -> Response:
    # The database refused a write (disk full, file gone): the request changed nothing, and says so.
    return _error(503, "store_unavailable", f"the conversation database could not keep this: {error}")


async def _http_error(_: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    kinds = {404: "not_found", 405: "method_not_allowed"}
    message = {404: "no such endpoint; the API is under /v1 (agents, threads, …)"}.get(error.status_code,
                                                                                      error.detail)
    return _error(error.status_code, kinds.get(error.status_code, "invalid_request"), message)


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status, headers=headers)


class _Api:
    def __init__(self, services: Services) -> None:
        self.session = services.session
        self.threads = services.threads
        self.runs = services.runs

    # -- the page and the agents ----------------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        return page.response()

    async def list_agents(self, request: Request) -> Response:
        return _list([payloads.agent(agent) for agent in self.session.catalog])

    async def get_agent(self, request: Request) -> Response:
        return JSONResponse(payloads.agent(self._agent(request.path_params["agent_id"])))

    # -- threads and messages -------------------------------------------------------------------------------

    async def list_threads(self, request: Request) -> Response:
        limit = _limit(request, default=50)
        return _list([self._thread_payload(c) for c in self.threads.recent(limit)])

    async def create_thread(self, request: Request) -> Response:
        body = await _json(request, allow_empty=True)
        agent_id = _optional_str(body, "agent_id") or _optional_str(body, "assistant_id")
        agent = self._agent(agent_id or self.session.config.default_agent)
        messages = body.get("messages", [])
        if not isinstance(messages, list):
            raise ApiError(400, "invalid_request", "'messages' should be a list of {\"role\": \"user\", "
                                                   "\"content\": \"…\"}")
        texts = [_user_text(m, f"messages[{i}]") for i, m in enumerate(messages)]
        conversation = self.threads.create(agent.id, texts)
        return JSONResponse(self._thread_payload(conversation), status_code=201)

    async def get_thread(self, request: Request) -> Response:
        return JSONResponse(self._thread_payload(self._thread(request)))

    async def list_messages(self, request: Request) -> Response:
        thread = self._thread(request)
        order = request.query_params.get("order", "desc")
        if order not in ("asc", "desc"):
            raise ApiError(400, "invalid_request", f"'order' should be asc or desc, not {order!r}")
        stored = self.threads.messages(thread.id, newest_first=order == "desc", limit=_limit(request, 100))
        return _list([payloads.message(m) for m in stored])

    async def add_message(self, request: Request) -> Response:
        thread = self._thread(request)
        text = _user_text(await _json(request), "the body")
        self._check_idle(thread.id)
        stored = self.threads.add_user_message(thread.id, text)
        return JSONResponse(payloads.message(stored), status_code=201)

    # -- runs ------------------------------------------------------------------------------------------------

    async def create_run(self, request: Request) -> Response:
        thread = self._thread(request)
        body = await _json(request, allow_empty=True)
        agent_id = _optional_str(body, "assistant_id") or _optional_str(body, "agent_id") or thread.agent_id
        model = _optional_str(body, "model")
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise ApiError(400, "invalid_request", "'stream' should be true or false")
        framing = _framing(request, default="openai")
        agent = self._agent(agent_id, model)
        self._check_idle(thread.id)
        history = self.threads.history(thread.id)
        if not history:
            raise ApiError(400, "invalid_request", f"thread {thread.id} has no message to answer yet; add one "
                                                   f"first (POST /v1/threads/{thread.id}/messages)")
        if self.runs.closing:
            raise ApiError(503, "server_stopping", str(ServerStopping()))
        exchange = self.threads.begin_run(thread.id, agent.id)
        run = self.session.run(agent, None, history=history)
        live = self.runs.start(run, thread.id, agent, exchange.record, exchange.finish, self.threads.redact)
        if stream:
            return _event_stream(live, framing)
        return JSONResponse(payloads.run(live), status_code=201)

    async def get_run(self, request: Request) -> Response:
        return JSONResponse(payloads.run(self._run(request)))

    async def cancel_run(self, request: Request) -> Response:
        live = self._run(request)
        if live.ended:
            raise ApiError(409, "run_ended", f"run {live.id} has already ended ({live.status})")
        if not live.cancel():
            raise ApiError(409, "run_cancelling", f"run {live.id} is already being cancelled; it ends with "
                                                  "thread.run.cancelled once its partial reply is kept")
        data = payloads.run(live)
        data["status"] = "cancelling"
        return JSONResponse(data)

    async def decide(self, request: Request) -> Response:
        """Answer a run's ``requires_action``: ``{"decisions": [{"tool_call_id": …, "decision": "once"}]}``.

        Salon runs the tools itself, after the user's answer; so where OpenAI's clients submit outputs, Salon's
        submit decisions (once, always, deny).
        """
        live = self._run(request)
        body = await _json(request)
        items = body.get("decisions")
        if not isinstance(items, list) or not items:
            raise ApiError(400, "invalid_request", "'decisions' should be a non-empty list of "
                                                   "{\"tool_call_id\": \"…\", \"decision\": \"once\"}")
        decisions: list[tuple[str, Decision]] = []
        for index, item in enumerate(items):
            call_id = item.get("tool_call_id") if isinstance(item, dict) else None
            decision = item.get("decision") if isinstance(item, dict) else None
            if not isinstance(call_id, str) or decision not in DECISIONS:
                raise ApiError(400, "invalid_request", f"decisions[{index}] should be {{\"tool_call_id\": \"…\", "
                                                       f"\"decision\": one of {', '.join(DECISIONS)}}}")
            decisions.append((call_id, decision))
        if live.status != "requires_action":
            raise ApiError(409, "not_waiting", f"run {live.id} is not waiting for decisions ({live.status})")
        try:
            live.decide(decisions)
        except KeyError as unknown:
            raise ApiError(409, "unknown_tool_call", f"run {live.id} is not waiting for a decision on tool call "
                                                     f"{unknown.args[0]!r}") from None
        return JSONResponse(payloads.run(live))

    async def stream(self, request: Request) -> Response:
        live = self._run(request)
        framing = _framing(request, default="hub")
        if not live.replayable:
            raise ApiError(410, "run_gone", f"run {live.id} ended ({live.status}) and its events are no longer "
                                            f"kept; its messages are at GET /v1/threads/{live.thread_id}/messages")
        return _event_stream(live, framing)

    # -- lookups that answer 4xx ----------------------------------------------------------------------------

    def _agent(self, agent_id: str, model: str | None = None) -> Any:
        try:
            return self.session.agent(agent_id, model)
        except UnknownAgent as error:
            raise ApiError(404, "unknown_agent", str(error)) from None
        except SalonError as error:  # an agent file that does not load: its path, line and reason
            raise ApiError(422, "broken_agent", str(error)) from None

    def _thread(self, request: Request) -> Any:
        thread_id = request.path_params["thread_id"]
        try:
            return self.threads.get(thread_id)
        except ConversationNotFound:
            raise ApiError(404, "unknown_thread", f"no thread {thread_id!r} (GET /v1/threads lists them)") from None

    def _run(self, request: Request) -> LiveRun:
        thread = self._thread(request)
        run_id = request.path_params["run_id"]
        live = self.runs.get(thread.id, run_id)
        if live is None:
            raise ApiError(404, "unknown_run", f"no run {run_id!r} on thread {thread.id} (runs are kept while "
                                               "this server runs, the last ones only once finished)")
        return live

    def _check_idle(self, thread_id: str) -> None:
        try:
            self.runs.check_idle(thread_id)
        except ThreadBusy as busy:
            raise ApiError(409, "thread_busy", str(busy)) from None

    def _thread_payload(self, conversation: Any) -> dict[str, Any]:
        active = self.runs.active(conversation.id)
        return payloads.thread(conversation, active.id if active else None)


def _event_stream(live: LiveRun, framing: Framing) -> Response:
    async def frames() -> AsyncIterator[bytes]:
        async for batch in live.follow():
            yield b"".join(frame.framed(framing) for frame in batch) if batch else PING
        if framing == "openai":
            yield OPENAI_DONE

    # A client that goes away ends only this generator; the run goes on in its own task and is saved.
    return StreamingResponse(frames(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _list(data: list[dict[str, Any]]) -> Response:
    return JSONResponse({"object": "list", "data": data,
                         "first_id": data[0]["id"] if data else None,
                         "last_id": data[-1]["id"] if data else None, "has_more": False})


def _framing(request: Request, default: Framing) -> Framing:
    value = request.query_params.get("format", default)
    if value not in FRAMINGS:
        raise ApiError(400, "invalid_request", f"'format' should be one of {', '.join(FRAMINGS)}, not {value!r}")
    return value  # type: ignore[return-value]


def _limit(request: Request, default: int) -> int:
    raw = request.query_params.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIST:
        raise ApiError(400, "invalid_request", f"'limit' should be a whole number from 1 to {MAX_LIST}, not {raw!r}")
    return int(raw)


async def _json(request: Request, *, allow_empty: bool = False) -> dict[str, Any]:
    """The body as a JSON object: 413 past :data:`MAX_BODY`, 415 if not JSON, 400 if it does not parse."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise ApiError(413, "body_too_large", f"the body is {declared} bytes; the limit is {MAX_BODY}")
    chunks: list[bytes] = []
    size = 0
    try:
        # A body sent a byte at a time would hold its connection for ever; the whole of it has a deadline.
        async with asyncio.timeout(BODY_TIMEOUT):
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY:
                    raise ApiError(413, "body_too_large", f"the body is over the limit of {MAX_BODY} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(408, "body_too_slow", f"the body did not arrive within {BODY_TIMEOUT:g} seconds",
                       headers={"Connection": "close"}) from None
    except ClientDisconnect:
        raise ApiError(400, "client_gone", "the client went away before its body arrived") from None
    raw = b"".join(chunks)
    if not raw.strip():
        if allow_empty:
            return {}
        raise ApiError(400, "invalid_json", "the body is empty; send a JSON object")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise ApiError(415, "unsupported_media_type", f"send the body as application/json, not {kind or 'nothing'}")
    try:
        return bodies.parse(raw)
    except bodies.BodyError as error:
        raise ApiError(400, "invalid_json", str(error)) from None


def _optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ApiError(400, "invalid_request", f"'{key}' should be a non-empty string")
    return value


def _user_text(message: Any, where: str) -> str:
    """A message's text: ``content`` as a string, or as OpenAI's list of text parts."""
    if not isinstance(message, dict):
        raise ApiError(400, "invalid_request", f"{where} should be an object like {{\"role\": \"user\", "
                                               "\"content\": \"…\"}")
    role = message.get("role", "user")
    if role != "user":
        raise ApiError(400, "invalid_request", f"{where}: only role \"user\" can be added, not {role!r}")
    content = message.get("content")
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        if len(parts) != len(content) or not all(isinstance(p, str) for p in parts):
            raise ApiError(400, "invalid_request", f"{where}: content parts should be "
                                                   "{\"type\": \"text\", \"text\": \"…\"}")
        content = "".join(parts)  # type: ignore[arg-type]
    if not isinstance(content, str) or not content.strip():
        raise ApiError(400, "invalid_request", f"{where}: 'content' should be non-empty text")
    return content

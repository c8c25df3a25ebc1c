"""A run of a Python agent: its agent.py in a worker thread, each completion it streams turned into events.

:class:`PythonRun` has the interface and the events of :class:`salon.runner.run.Run` — ``events()``, ``cancel()``,
``id``, ``agent``, ``completed`` — so every face runs a Python agent without knowing it is one. The agent's thread
waits on the event loop for each chunk (``asyncio.run_coroutine_threadsafe``); the loop emits the chunk as a
``message.delta`` before handing it over, so the faces see text as the agent reads it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from salon.agents.definition import Agent
from salon.agents.environment import CompletionChunk, CompletionText, Environment, RunStopped
from salon.agents.params import GENERATION_PARAMS
from salon.errors import ProviderError, ServerBusy
from salon.events import (
    Event,
    MessageCompleted,
    MessageCreated,
    MessageDelta,
    MessageStatus,
    RunCancelled,
    RunCompleted,
    RunCreated,
    RunFailed,
)
from salon.ids import new_id
from salon.providers import ChatMessage, CompletionRequest, Providers, split_ref
from salon.reply import ReplyBuilder
from salon.runner.run import BUSY_RETRY_DELAYS, Run
from salon.surrogates import mend

T = TypeVar("T")
_ROLES = {"system": "system", "user": "user", "assistant": "assistant", "agent": "assistant"}


class AgentCodeError(ProviderError):
    """The agent's own code failed: its file, line and message."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


@dataclass(eq=False)
class _Stream:
    """One streamed completion of the agent's, from its first chunk asked for to its message's end."""

    request: CompletionRequest
    model: str
    builder: ReplyBuilder
    message_id: str = ""
    step: int = 0
    chunks: Any = None  # the provider's async generator, once the first chunk is asked for
    ended: bool = False
    delays: Any = field(default=None)


@dataclass(frozen=True, slots=True)
class _Finished:
    error: BaseException | None


_WAKE = object()


class PythonRun(Run):
    """One run of a Python agent; iterate it (once) for its events, :meth:`cancel` stops it keeping partial text."""

    def __init__(self, agent: Agent, history: Sequence[ChatMessage], providers: Providers, *,
                 stream: bool | None = None, run_id: str | None = None, clock: Callable[[], float] | None = None,
                 retry_delays: Sequence[float] = BUSY_RETRY_DELAYS) -> None:
        super().__init__(agent, history, providers, stream=stream, run_id=run_id, clock=clock,
                         retry_delays=retry_delays)
        if agent.program is None:
            raise ValueError(f"agent '{agent.id}' is not a Python agent")
        self.program: Path = agent.program
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._op: asyncio.Task[Any] | None = None
        self._open: _Stream | None = None
        self._messages = 0
        self._ended = False

    def cancel(self) -> None:
        """Stop the run: the agent's thread is stopped at its next call to ``env`` (its next chunk raises
        :class:`~salon.agents.environment.RunStopped`), the message being streamed ends ``interrupted`` with its
        text."""
        self._cancel_requested = True
        if self._op is not None:
            self._op.cancel()
        self._queue.put_nowait(_WAKE)

    async def events(self) -> AsyncIterator[Event]:
        if self._started:
            raise RuntimeError("a Run can be iterated only once")
        self._started = True
        self._loop = asyncio.get_running_loop()
        yield RunCreated(self.id, self.agent.id, self.agent.name, 0)
        if refusal := _refusal(self.program):
            self._ended = True
            yield RunFailed(self.id, AgentCodeError(self.program, None, refusal))
            return
        threading.Thread(target=self._main, name=f"salon-agent-{self.id}", daemon=True).start()
        try:
            while True:
                item = await self._queue.get()
                if isinstance(item, _Finished):
                    async for event in self._finish(item.error):
                        yield event
                    return
                if item is _WAKE:
                    if self._cancel_requested:
                        async for event in self._stop():
                            yield event
                        return
                    continue
                yield self._seen(item)  # type: ignore[arg-type]
        finally:
            if not self._ended:
                # The consumer went away (the app closing): the agent's thread stops at its next call.
                self._cancel_requested = True
                if self._op is not None:
                    self._op.cancel()

    def _seen(self, event: Event) -> Event:
        if isinstance(event, MessageCompleted):
            self.completed.append(event)
        return event

    async def _stop(self) -> AsyncIterator[Event]:
        if self._op is not None and not self._op.done():
            self._op.cancel()
            await asyncio.wait([self._op])
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not _WAKE and not isinstance(item, _Finished):
                yield self._seen(item)  # type: ignore[arg-type]
        if self._open is not None:
            yield self._seen(await self._close(self._open, "interrupted"))
        self._ended = True
        yield RunCancelled(self.id)

    async def _finish(self, error: BaseException | None) -> AsyncIterator[Event]:
        self._ended = True
        if isinstance(error, RunStopped) or (error is None and self._cancel_requested):
            if self._open is not None:
                yield self._seen(await self._close(self._open, "interrupted"))
            yield RunCancelled(self.id)
            return
        if isinstance(error, SystemExit) and error.code in (None, 0):
            error = None
        failure: ProviderError | None = None
        partial = ""
        if isinstance(error, ProviderError):
            failure = error  # a completion failed and the agent let it through: the provider's own error
            partial = error.partial
        elif error is not None:
            failure = _code_error(self.program, error)
        elif self._messages == 0:
            failure = AgentCodeError(self.program, None, "finished without writing a reply (no completion was "
                                                         "streamed or given to env.add_reply)")
        if self._open is not None:
            closing = await self._close(self._open, "failed" if failure else "interrupted", failure)
            partial = closing.reply.text
            yield self._seen(closing)
        if failure is None:
            yield RunCompleted(self.id)
            return
        failure.partial = partial
        failure.args = (mend(str(failure)),)
        yield RunFailed(self.id, failure)

    # -- the agent's thread ---------------------------------------------------------------------------------------

    def _main(self) -> None:
        error: BaseException | None = None
        try:
            source = self.program.read_text(encoding="utf-8")
            code = compile(source, str(self.program), "exec")
            env = Environment(_Host(self))
            exec(code, {"__name__": "__salon_agent__", "__file__": str(self.program), "env": env,
                        "print": _stderr_print})
        except BaseException as exc:  # whatever agent.py raises ends the run, reported with its line
            error = exc
        self._post(_Finished(error))

    def _post(self, item: object) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody is listening any more
            loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run ``operation`` on the event loop and wait for it, from the agent's thread."""
        loop = self._loop
        if self._cancel_requested or loop is None or loop.is_closed():
            raise RunStopped()
        try:
            future = asyncio.run_coroutine_threadsafe(self._guarded(operation), loop)
        except RuntimeError:
            raise RunStopped() from None
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise RunStopped() from None

    async def _guarded(self, operation: Callable[[], Awaitable[T]]) -> T:
        if self._cancel_requested:
            raise asyncio.CancelledError
        self._op = asyncio.current_task()
        try:
            return await operation()
        finally:
            self._op = None

    # -- on the event loop ------------------------------------------------------------------------------------------

    def request(self, messages: Sequence[Mapping[str, Any]], model: str, params: Mapping[str, Any],
                stream: bool) -> tuple[CompletionRequest, str]:
        # The agent's model (the metadata's, or the one the user chose), never the code's own `model=`: a hub
        # agent names the hub's models, and the user's --model must hold for every completion.
        ref = self.agent.model
        wanted = dict(self.agent.params)
        for key, value in params.items():
            if key not in GENERATION_PARAMS:
                raise TypeError(f"completion() got {key!r}, which is not a generation parameter")
            wanted[key] = value
        chat = [_chat_message(m) for m in messages]
        sent = stream if self.stream_override is None else self.stream_override
        return CompletionRequest(model=split_ref(ref), messages=chat, params=wanted, stream=sent), ref

    def new_stream(self, request: CompletionRequest, ref: str) -> _Stream:
        builder = ReplyBuilder(ref, self._clock) if self._clock else ReplyBuilder(ref)
        return _Stream(request, ref, builder, delays=iter(self._retry_delays))

    async def pull(self, state: _Stream) -> CompletionChunk | None:
        """The stream's next chunk with text (emitted as a delta first), or None at its end."""
        if state.ended:
            return None
        if state.chunks is None:
            await self._begin(state)
        while True:
            assert state.chunks is not None
            try:
                chunk = await anext(state.chunks)
            except StopAsyncIteration:
                self._queue.put_nowait(await self._close(state, "complete"))
                return None
            except ServerBusy as busy:
                # Tried again only while nothing of this reply has arrived: no text is ever doubled.
                delay = next(state.delays, None) if state.builder.chunks == 0 else None
                await state.chunks.aclose()
                if delay is None:
                    await self._fail(state, busy)
                await asyncio.sleep(delay)
                state.chunks = self.providers.for_model(state.model).stream(state.request)
                continue
            except ProviderError as failure:
                await self._fail(state, failure)
            chunk = state.builder.add(chunk)
            if chunk.text or chunk.thinking:
                self._queue.put_nowait(MessageDelta(self.id, state.message_id, chunk.text, chunk.thinking))
                return CompletionChunk(state.message_id, state.model, chunk.text, chunk.thinking)

    async def _begin(self, state: _Stream) -> None:
        if self._open is not None and self._open is not state:
            # A stream the agent left half read before starting another: its message ends where it was left.
            self._queue.put_nowait(await self._close(self._open, "interrupted"))
        state.message_id = new_id("msg")
        state.step = self._messages
        self._messages += 1
        self._queue.put_nowait(MessageCreated(self.id, state.message_id, state.step, self.agent.id,
                                              self.agent.name, state.model, self.agent.show_streaming_message))
        state.chunks = self.providers.for_model(state.model).stream(state.request)
        self._open = state

    async def _fail(self, state: _Stream, failure: ProviderError) -> NoReturn:
        closing = await self._close(state, "failed", failure)
        self._queue.put_nowait(closing)
        failure.partial = closing.reply.text
        raise failure

    async def _close(self, state: _Stream, status: MessageStatus, error: BaseException | None = None,
                     ) -> MessageCompleted:
        state.ended = True
        if self._open is state:
            self._open = None
        if state.chunks is not None:
            await state.chunks.aclose()
        return MessageCompleted(self.id, state.message_id, state.step, self.agent.id, self.agent.name,
                                state.builder.freeze(), status, mend(str(error)) if error else None)

    async def whole(self, request: CompletionRequest, ref: str) -> CompletionText:
        """A completion read to its end without a message (``stream=False``): its text, remembering its figures."""
        state = self.new_stream(request, ref)
        chunks: Any = self.providers.for_model(ref).stream(request)
        try:
            async for chunk in chunks:
                state.builder.add(chunk)
        finally:
            await chunks.aclose()
        reply = state.builder.freeze()
        text = CompletionText(reply.text)
        text.reply, text.model = reply, ref
        return text

    async def write(self, text: str, reply: Any, ref: str) -> None:
        """A reply given as text (``env.add_reply(text)``): one message, created, its text, completed."""
        ref = ref or self.agent.model
        state = self.new_stream(CompletionRequest(split_ref(ref), ()), ref)
        if self._open is not None:
            self._queue.put_nowait(await self._close(self._open, "interrupted"))
        state.message_id = new_id("msg")
        state.step = self._messages
        self._messages += 1
        self._queue.put_nowait(MessageCreated(self.id, state.message_id, state.step, self.agent.id,
                                              self.agent.name, ref, self.agent.show_streaming_message))
        if text:
            self._queue.put_nowait(MessageDelta(self.id, state.message_id, text))
        final = reply if reply is not None and reply.text == text else None
        if final is None:
            from salon.reply import Chunk

            state.builder.add(Chunk(text=text))
            final = state.builder.freeze()
        self._queue.put_nowait(MessageCompleted(self.id, state.message_id, state.step, self.agent.id,
                                                self.agent.name, final))


class _Host:
    """The run as the environment sees it, from the agent's thread: every call waits for the event loop."""

    def __init__(self, run: PythonRun) -> None:
        self._run = run

    def history(self) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.content} for m in self._run.history if m.role != "system"]

    def open_stream(self, messages: Sequence[Mapping[str, Any]], model: str, params: dict[str, Any]) -> _Stream:
        request, ref = self._run.request(messages, model, params, stream=True)
        return self._run.new_stream(request, ref)

    def pull(self, stream: _Stream) -> CompletionChunk | None:
        return self._run.call(lambda: self._run.pull(stream))

    def text_of(self, stream: _Stream) -> str:
        return stream.builder.text

    def complete(self, messages: Sequence[Mapping[str, Any]], model: str, params: dict[str, Any]) -> CompletionText:
        request, ref = self._run.request(messages, model, params, stream=False)
        return self._run.call(lambda: self._run.whole(request, ref))

    def write_reply(self, text: str, reply: Any, model: str) -> None:
        self._run.call(lambda: self._run.write(text, reply, model))


def _chat_message(message: Mapping[str, Any]) -> ChatMessage:
    if not isinstance(message, Mapping):
        raise TypeError(f"each message is a dict with \"role\" and \"content\", not {type(message).__name__}")
    role, content = message.get("role"), message.get("content")
    if role not in _ROLES:
        raise ValueError(f"a message's role is one of {', '.join(_ROLES)}, not {role!r}")
    if not isinstance(content, str):
        raise TypeError(f"a message's content is a string, not {type(content).__name__}")
    return ChatMessage(_ROLES[role], content)  # type: ignore[arg-type]


def _code_error(program: Path, error: BaseException) -> AgentCodeError:
    """The agent's exception as ``agent.py:LINE: Type: message``, at the deepest line of agent.py it passed."""
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == str(program):
            line = frame.lineno
    message = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0] == "nearai":
        message += " (write `from salon.agent_env import Environment` instead: Salon provides the environment)"
    return AgentCodeError(program, line, message)


def _refusal(program: Path) -> str | None:
    """Why this agent.py may not run (it is not in the user's own agents folder), or None."""
    from salon import locations

    if program.resolve().parent.parent != locations.user_agents_dir().resolve():
        return (f"a Python agent runs only from your own agents folder ({locations.user_agents_dir()}); "
                f"`salon agents import {program.parent}` copies it there after asking")
    return None


def _stderr_print(*values: object, **options: Any) -> None:
    """agent.py's ``print``: to standard error, so a reply piped from ``salon ask`` stays the reply alone."""
    import builtins
    import sys

    from salon import terminal

    options.setdefault("file", terminal.writer(sys.stderr))
    builtins.print(*values, **options)

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
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from salon.agents.definition import Agent, Step
from salon.agents.environment import CompletionChunk, CompletionText, Environment, RunStopped
from salon.agents.params import GENERATION_PARAMS
from salon.errors import AgentCodeError, RunError
from salon.events import (
    Event,
    MessageCompleted,
    MessageDelta,
    MessageStatus,
    RunCancelled,
    RunCompleted,
    RunCreated,
    RunFailed,
)
from salon.providers import ChatMessage, CompletionRequest, Providers, split_ref
from salon.reply import Chunk, Reply, ReplyBuilder
from salon.runner.completion import Completion
from salon.runner.run import BUSY_RETRY_DELAYS, Ended, Run
from salon.surrogates import mend

T = TypeVar("T")
_ROLES = {"system": "system", "user": "user", "assistant": "assistant", "agent": "assistant"}


@dataclass(eq=False)
class _Stream:
    """One streamed completion of the agent's, from its first chunk asked for to its message's end."""

    request: CompletionRequest
    model: str
    completion: Completion | None = None
    """The message, once its first chunk is asked for (a message's step number is its place among the run's)."""
    chunks: AsyncGenerator[Chunk | Ended] | None = None
    ended: bool = False


@dataclass(frozen=True, slots=True)
class _Finished:
    error: BaseException | None


_WAKE = object()


class PythonRun(Run):
    """One run of a Python agent; iterate it (once) for its events, :meth:`cancel` stops it keeping partial text.

    Its completions go through the run's own retry (:meth:`Run._complete`) and message lifecycle
    (:class:`~salon.runner.completion.Completion`); only the driving differs: agent.py in a thread, its events
    handed to the iterating task through a queue.
    """

    def __init__(self, agent: Agent, history: Sequence[ChatMessage], providers: Providers, *,
                 stream: bool | None = None, run_id: str | None = None, clock: Callable[[], float] | None = None,
                 retry_delays: Sequence[float] = BUSY_RETRY_DELAYS) -> None:
        super().__init__(agent, history, providers, stream=stream, run_id=run_id, clock=clock,
                         retry_delays=retry_delays)
        if agent.program is None:
            raise ValueError(f"agent '{agent.id}' is not a Python agent")
        self.program: Path = agent.program
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[Event | _Finished | object] = asyncio.Queue()
        self._open: _Stream | None = None
        self._messages = 0
        self._ended = False

    def cancel(self) -> None:
        """Stop the run: a wait on the provider is interrupted at once, the agent's thread is stopped at its next
        call to ``env`` (it raises :class:`~salon.agents.environment.RunStopped`), and the message being streamed
        ends ``interrupted`` with its text."""
        super().cancel()
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
                yield item  # type: ignore[misc]  # the queue holds events besides the two markers
        finally:
            if not self._ended:
                # The consumer went away (the app closing): the agent's thread stops at its next call.
                self._cancel_requested = True
                if self._task is not None:
                    self._task.cancel()

    async def _stop(self) -> AsyncIterator[Event]:
        if self._task is not None and not self._task.done():
            # cancel() interrupted a wait on the provider already; what the operation does next is short.
            await asyncio.wait([self._task])
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not _WAKE and not isinstance(item, _Finished):
                yield item  # type: ignore[misc]
        if self._open is not None:
            yield await self._close(self._open, "interrupted")
        self._ended = True
        yield RunCancelled(self.id)

    async def _finish(self, error: BaseException | None) -> AsyncIterator[Event]:
        self._ended = True
        if isinstance(error, RunStopped) or (error is None and self._cancel_requested):
            if self._open is not None:
                yield await self._close(self._open, "interrupted")
            yield RunCancelled(self.id)
            return
        if isinstance(error, SystemExit) and error.code in (None, 0):
            error = None
        failure: RunError | None = None
        partial = ""
        if isinstance(error, RunError):
            failure = error  # a completion failed and the agent let it through: its own error, not the agent's
            partial = error.partial
        elif error is not None:
            failure = _code_error(self.program, error)
        elif self._messages == 0:
            failure = AgentCodeError(self.program, None, "finished without writing a reply (no completion was "
                                                         "streamed or given to env.add_reply)")
        if self._open is not None:
            closing = await self._close(self._open, "failed" if failure else "interrupted", failure)
            partial = closing.reply.text
            yield closing
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
        # The run's waiting task is this operation's: a cancel interrupts its wait on the provider (Run.cancel).
        self._task = asyncio.current_task()
        try:
            return await operation()
        finally:
            self._task = None

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

    async def pull(self, state: _Stream) -> CompletionChunk | None:
        """The stream's next chunk with text (emitted as a delta first), or None at its end."""
        if state.ended:
            return None
        if state.chunks is None:
            await self._begin(state)
        assert state.chunks is not None and state.completion is not None
        while True:
            item = await anext(state.chunks, None)
            if item is None:
                self._queue.put_nowait(await self._close(state, "complete"))
                return None
            if isinstance(item, Ended):
                if item.error is None:
                    raise RunStopped()  # cancelled: the message ends interrupted as the run stops
                closing = await self._close(state, "failed", item.error)
                self._queue.put_nowait(closing)
                item.error.partial = closing.reply.text
                raise item.error
            for event in state.completion.feed(item, None):
                self._queue.put_nowait(event)
                if isinstance(event, MessageDelta):
                    return CompletionChunk(state.completion.message_id, state.model, event.text, event.thinking)

    def _message(self, model: str) -> Completion:
        """A new message of the run's, the next in its order."""
        step = Step(self.agent.id, self.agent.name, model, show_streaming_message=self.agent.show_streaming_message)
        completion = Completion(self.id, self._messages, step, self._clock, self.completed)
        self._messages += 1
        return completion

    async def _begin(self, state: _Stream) -> None:
        if self._open is not None and self._open is not state:
            # A stream the agent left half read before starting another: its message ends where it was left.
            self._queue.put_nowait(await self._close(self._open, "interrupted"))
        state.completion = self._message(state.model)
        self._queue.put_nowait(state.completion.open())
        state.chunks = self._complete(state.model, state.request)
        self._open = state

    async def _close(self, state: _Stream, status: MessageStatus, error: RunError | None = None,
                     ) -> MessageCompleted:
        state.ended = True
        if self._open is state:
            self._open = None
        if state.chunks is not None:
            await state.chunks.aclose()
        assert state.completion is not None
        return state.completion.close(status, error)

    async def whole(self, request: CompletionRequest, ref: str) -> CompletionText:
        """A completion read to its end without a message (``stream=False``): its text, remembering its figures."""
        builder = ReplyBuilder(ref, self._clock) if self._clock else ReplyBuilder(ref)
        chunks = self._complete(ref, request)
        try:
            async for item in chunks:
                if isinstance(item, Ended):
                    if item.error is None:
                        raise RunStopped()
                    item.error.partial = builder.text
                    raise item.error
                builder.add(item)
        finally:
            await chunks.aclose()
        reply = builder.freeze()
        text = CompletionText(reply.text)
        text.reply, text.model = reply, ref
        return text

    async def write(self, text: str, reply: Reply | None, ref: str) -> None:
        """A reply given as text (``env.add_reply(text)``): one message, created, its text, completed.

        The text of a non-streamed completion keeps that completion's figures (tokens, time).
        """
        ref = ref or self.agent.model
        if self._open is not None:
            self._queue.put_nowait(await self._close(self._open, "interrupted"))
        completion = self._message(ref)
        self._queue.put_nowait(completion.open())
        if reply is not None and reply.text == text:
            completion.builder = _Whole(reply)
            if text:
                self._queue.put_nowait(MessageDelta(self.id, completion.message_id, text))
        else:
            for event in completion.feed(Chunk(text=text), None):
                self._queue.put_nowait(event)
        self._queue.put_nowait(completion.close("complete"))


class _Whole(ReplyBuilder):
    """The builder of a reply already complete (a non-streamed completion's): it freezes to that reply, figures
    and all."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.model)
        self.add(Chunk(text=reply.text))
        self._reply = reply

    def freeze(self) -> Reply:
        return self._reply


class _Host:
    """The run as the environment sees it, from the agent's thread: every call waits for the event loop."""

    def __init__(self, run: PythonRun) -> None:
        self._run = run

    def history(self) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.content} for m in self._run.history if m.role != "system"]

    def open_stream(self, messages: Sequence[Mapping[str, Any]], model: str, params: dict[str, Any]) -> _Stream:
        request, ref = self._run.request(messages, model, params, stream=True)
        return _Stream(request, ref)

    def pull(self, stream: _Stream) -> CompletionChunk | None:
        return self._run.call(lambda: self._run.pull(stream))

    def text_of(self, stream: _Stream) -> str:
        return stream.completion.builder.text if stream.completion is not None else ""

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
    # Checked again as it starts, not only when the agents loaded: a folder opened to others meanwhile counts.
    from salon.agents.hub import program_refusal

    return program_refusal(program)


def _stderr_print(*values: object, **options: Any) -> None:
    """agent.py's ``print``: to standard error, so a reply piped from ``salon ask`` stays the reply alone."""
    import builtins
    import sys

    from salon import terminal

    options.setdefault("file", terminal.writer(sys.stderr))
    builtins.print(*values, **options)

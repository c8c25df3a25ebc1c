"""An agent as the streaming guides hold one: ``agent.stream(prompt)``, ``stream_sync``, ``arun``, per-call params.

``salon.agent("socrates")`` wraps an agent of the catalog; ``Agent(name=…, model=…, instructions=…)`` (the guides'
spelling, importable as ``salon.streaming.Agent``) builds one on the default agent. ``salon.Agent`` stays the
agent definition it always was (docs/decisions.md). Each stream is a :class:`~salon.runner.run.Run` asked of a
:class:`~salon.api.Session`, turned into chunks by :func:`salon.streaming.chunks_from_events`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from salon.agents.definition import Agent as AgentDefinition
from salon.agents.definition import AgentCatalog, default_directories, load_agents
from salon.agents.params import GENERATION_PARAMS, refusal
from salon.api import ChatMessage, Session, answering
from salon.config.read import Config, load_config
from salon.config.tomlfile import describe, is_of
from salon.errors import SalonError
from salon.events import ToolCall
from salon.refs import is_ollama
from salon.runner.run import Decision, Run
from salon.streaming import StreamChunk, StreamingResponse, chunks_from_events

__all__ = ["Agent", "AgentStream", "StreamingAgent", "SyncStream", "agent", "supports_streaming"]


def checked_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Per-call parameters through the same allowlist as an agent's ``[params]``; anything else is refused."""
    for key, value in params.items():
        expected = GENERATION_PARAMS.get(key)
        if expected is None:
            raise SalonError(f"stream(): {refusal(key)}")
        if not is_of(value, expected[0]):
            raise SalonError(f"stream(): '{key}' should be {expected[1]}, not {describe(value)}")
    return dict(params)


def _with_params(definition: AgentDefinition, params: Mapping[str, Any]) -> AgentDefinition:
    if not params:
        return definition
    steps = tuple(replace(step, params=MappingProxyType({**step.params, **params})) for step in definition.steps)
    return replace(definition, params=MappingProxyType({**definition.params, **params}), steps=steps)


class StreamingAgent:
    """An agent to stream from, as the guides use one; every stream is a run of Salon's own.

    ``name`` and ``instructions`` rename the agent and replace its system prompt (where its steps share them);
    ``model`` sends every step to that model (``ollama/llama3.2``, ``openai/gpt-4o-mini``, or a bare name litellm
    knows); ``stream`` overrides the agent's own ``stream`` setting; ``params`` (``temperature``, ``max_tokens`` …)
    apply to every stream, through the same allowlist as an agent file's ``[params]``.
    """

    def __init__(self, name: str | None = None, model: str | None = None, *, agent: str | AgentDefinition | None = None,
                 instructions: str | None = None, stream: bool | None = None, config: Config | None = None,
                 catalog: AgentCatalog | None = None, session: Session | None = None,
                 decide: Callable[[ToolCall], Decision] | None = None, **params: Any) -> None:
        self._session = session
        # A tool call the user's config does not already allow is put to ``decide``; without one it is denied
        # (the model is told): a stream never runs a tool nobody allowed, nor waits for an answer that cannot come.
        self.decide = decide
        self.config = session.config if session else config or load_config()
        self.catalog = session.catalog if session else catalog or load_agents(default_directories())
        base = Session(self.config, self.catalog).agent(agent, model)
        steps = tuple(replace(step, name=name if name and step.name == base.name else step.name,
                              system=instructions if instructions is not None and step.system == base.system
                              else step.system) for step in base.steps)
        self.definition = replace(base, name=name or base.name, steps=steps,
                                  system=base.system if instructions is None else instructions)
        self.stream_override = stream
        self.params = checked_params(params)
        self._streams: set[AgentStream] = set()
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        return self.definition.id

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def model(self) -> str:
        return self.definition.model

    def __repr__(self) -> str:
        return f"<salon agent {self.id!r} ({self.name}, {self.model})>"

    def stream(self, prompt: str, *, history: Sequence[ChatMessage] = (), stream: bool | None = None,
               **params: Any) -> AgentStream:
        """The reply's chunks: ``async for chunk in agent.stream(prompt, temperature=0.9)``.

        Raises :class:`~salon.streaming.StreamInterruptedError` (with ``partial_response``) when the reply is cut
        or cancelled, and the run's own typed error (``ModelNotFound`` …) when it fails before any text.
        """
        definition = _with_params(self.definition, {**self.params, **checked_params(params)})
        override = self.stream_override if stream is None else stream
        return AgentStream(self, definition, prompt, history, override, self._session)

    def stream_sync(self, prompt: str, **options: Any) -> SyncStream:
        """:meth:`stream` for scripts without an event loop: ``for chunk in agent.stream_sync(prompt)``."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return SyncStream(self.stream(prompt, **options))
        raise SalonError("stream_sync() cannot run inside a running event loop (it would block it); there, use "
                         "`async for chunk in agent.stream(prompt)`")

    async def arun(self, prompt: str, **options: Any) -> StreamingResponse:
        """The whole reply, collected: ``(await agent.arun(prompt)).content``."""
        response = StreamingResponse()
        async for chunk in self.stream(prompt, **options):
            response.add_chunk(chunk)
        return response

    def supports_streaming(self, model: str | None = None) -> bool:
        """Whether ``model`` (default: every model of this agent) streams; see :func:`supports_streaming`."""
        return all(supports_streaming(ref, self.config) for ref in ([model] if model else self.definition.models))

    def get_provider_info(self) -> dict[str, Any]:
        """The guides' provider check: ``agent.get_provider_info()['supports_streaming']``."""
        providers = ["ollama" if is_ollama(ref) else ref.partition("/")[0] if "/" in ref else "cloud"
                     for ref in self.definition.models]
        return {"agent": self.id, "model": self.model, "models": list(self.definition.models),
                "provider": providers[0], "supports_streaming": self.supports_streaming()}

    def cancel(self) -> None:
        """Stop every stream of this agent that is running; each raises StreamInterruptedError with its text."""
        with self._lock:
            streams = list(self._streams)
        for running in streams:
            running.cancel()

    def _started(self, stream: AgentStream, running: bool) -> None:
        with self._lock:
            if running:
                self._streams.add(stream)
            else:
                self._streams.discard(stream)


Agent = StreamingAgent
"""The guides' ``Agent(name=…, model=…)``; ``salon.Agent`` is the agent definition (docs/decisions.md)."""


def agent(agent_id: str | None = None, model: str | None = None, **options: Any) -> StreamingAgent:
    """An agent of the catalog (the default agent when ``agent_id`` is None), ready to stream."""
    return StreamingAgent(agent=agent_id, model=model, **options)


def supports_streaming(model: str, config: Config | None = None) -> bool:
    """Whether ``model`` streams; where it does not, :meth:`StreamingAgent.stream` yields one final chunk."""
    from salon.providers.capabilities import streams_natively

    return streams_natively(config or load_config(), model)


class AgentStream:
    """One reply being streamed: iterate it once (``async for``); :meth:`cancel` stops it from any thread."""

    def __init__(self, owner: StreamingAgent, definition: AgentDefinition, prompt: str,
                 history: Sequence[ChatMessage], stream: bool | None, session: Session | None) -> None:
        self._owner = owner
        self.definition = definition
        self._prompt = prompt
        self._history = tuple(history)
        self._override = stream
        self._session = session
        self._chunks: AsyncIterator[StreamChunk] | None = None
        self._run: Run | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cancelled = False

    def __aiter__(self) -> AgentStream:
        return self

    async def __anext__(self) -> StreamChunk:
        if self._chunks is None:
            self._chunks = self._produce()
        return await anext(self._chunks)

    async def aclose(self) -> None:
        if self._chunks is not None:
            await self._chunks.aclose()  # type: ignore[attr-defined]

    def cancel(self) -> None:
        """Stop the reply; the stream then raises StreamInterruptedError carrying what had arrived."""
        self._cancelled = True
        run, loop = self._run, self._loop
        if run is None or loop is None or loop.is_closed():
            return
        try:
            in_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            in_loop = False
        if in_loop:
            run.cancel()
        else:
            loop.call_soon_threadsafe(run.cancel)

    async def _produce(self) -> AsyncIterator[StreamChunk]:
        session = self._session or Session(self._owner.config, self._owner.catalog)
        self._owner._started(self, True)
        try:
            definition = self.definition
            await session.warm_up(definition.models)  # litellm, off the loop, for a cloud model
            override = self._override
            if override is not False and not all(session.supports_streaming(m) for m in definition.models):
                override = False  # a model that cannot stream: the whole reply, as one final chunk
            run = session.run(definition, self._prompt, history=self._history, stream=override)
            self._run, self._loop = run, asyncio.get_running_loop()
            if self._cancelled:
                run.cancel()

            def streamed(step: int) -> bool:
                return definition.steps[step].stream if override is None else override

            async with aclosing(answering(run, run.events(), self._owner.decide)) as events:
                async for chunk in chunks_from_events(events, streamed):
                    yield chunk
        finally:
            self._owner._started(self, False)
            if self._session is None:
                await session.aclose()


class SyncStream:
    """An :class:`AgentStream` driven by an event loop of its own on the calling thread, for ``for`` loops.

    One task runs the whole stream (so a cancel reaches the run wherever it waits); each ``next`` runs the loop
    until that task hands over the next chunk. Leaving the loop early closes the stream and its connections.
    """

    def __init__(self, stream: AgentStream) -> None:
        self._stream = stream
        self._loop: asyncio.AbstractEventLoop | None = None  # made when iterated: one never iterated leaks none
        self._pump: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[tuple[str, Any]] | None = None

    def cancel(self) -> None:
        self._stream.cancel()

    def __iter__(self) -> Iterator[StreamChunk]:
        if self._loop is not None:
            raise SalonError("a stream can be iterated only once; call stream_sync() again for another reply")
        self._loop = loop = asyncio.new_event_loop()
        try:
            while True:
                kind, value = loop.run_until_complete(self._next())
                if kind == "chunk":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    return
        finally:
            self.close()

    async def _next(self) -> tuple[str, Any]:
        if self._queue is None:
            self._queue = asyncio.Queue(maxsize=1)
            self._pump = asyncio.create_task(self._drive(self._queue))
        return await self._queue.get()

    async def _drive(self, queue: asyncio.Queue[tuple[str, Any]]) -> None:
        try:
            async for chunk in self._stream:
                await queue.put(("chunk", chunk))
        except Exception as error:  # handed to the caller's thread, raised there
            await queue.put(("error", error))
        else:
            await queue.put(("end", None))

    def close(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
            loop.run_until_complete(asyncio.gather(self._pump, return_exceptions=True))
        loop.run_until_complete(self._stream.aclose())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

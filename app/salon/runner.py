"""Run an agent on a conversation: each step one completion, each completion a run of events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from salon.agents import Agent, Step
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
from salon.surrogates import mend

BUSY_RETRY_DELAYS = (0.5, 1.5, 3.0)

Decision = Literal["once", "always", "deny"]
DECISIONS: tuple[Decision, ...] = ("once", "always", "deny")


@dataclass(frozen=True, slots=True)
class StepOutput:
    persona: str
    text: str


def build_messages(step: Step, history: Sequence[ChatMessage], earlier: Sequence[StepOutput]) -> list[ChatMessage]:
    """What one step's model is sent: its own system prompt, the conversation, and what earlier steps said.

    Earlier steps arrive as a user turn naming who spoke: a trailing assistant turn would make Ollama continue
    that message instead of answering it.
    """
    messages = [ChatMessage("system", step.system)] if step.system else []
    messages.extend(m for m in history if m.role != "system")
    if earlier and step.sees_previous_steps:
        said = "\n\n".join(f"{out.persona} replied:\n\n{out.text}" for out in earlier)
        messages.append(ChatMessage("user", said))
    return messages


class Run:
    """One run of an agent. Iterate it (once) for its events; :meth:`cancel` stops it, keeping partial text."""

    def __init__(
        self,
        agent: Agent,
        history: Sequence[ChatMessage],
        providers: Providers,
        *,
        stream: bool | None = None,
        run_id: str | None = None,
        clock: Callable[[], float] | None = None,
        retry_delays: Sequence[float] = BUSY_RETRY_DELAYS,
    ) -> None:
        self.agent = agent
        self.history = tuple(history)
        self.providers = providers
        self.stream_override = stream
        self.id = run_id or new_id("run")
        self.completed: list[MessageCompleted] = []
        self._clock = clock
        self._retry_delays = tuple(retry_delays)
        self._cancel_requested = False
        self._waiting_on_provider = False
        self._task: asyncio.Task[object] | None = None
        self._started = False
        self._decisions: dict[str, Decision] = {}
        self._decided = asyncio.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancel_requested

    def cancel(self) -> None:
        """Stop the run; its current message ends ``interrupted`` with the text received so far.

        Call it from the event loop that iterates the run. Only a wait on the provider is interrupted at once; a
        consumer busy with an event sees the run end at its next step.
        """
        self._cancel_requested = True
        if self._waiting_on_provider and self._task is not None:
            self._task.cancel()

    def decide(self, call_id: str, decision: Decision) -> None:
        """Answer a tool call the run asked about (:class:`~salon.events.RequiresAction`).

        May come before or after the consumer resumes iterating; the run waits until every call it asked about has
        an answer. ``"always"`` is remembered for this agent and tool in the user's config by the run's approvals.
        """
        if decision not in DECISIONS:
            raise ValueError(f"a decision is one of {', '.join(DECISIONS)}, not {decision!r}")
        self._decisions[call_id] = decision
        self._decided.set()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self.events()

    async def events(self) -> AsyncIterator[Event]:
        if self._started:
            raise RuntimeError("a Run can be iterated only once")
        self._started = True
        self._task = asyncio.current_task()
        yield RunCreated(self.id, self.agent.id, self.agent.name, len(self.agent.steps))
        earlier: list[StepOutput] = []
        for index, step in enumerate(self.agent.steps):
            if self._cancel_requested:
                yield RunCancelled(self.id)
                return
            message_id = new_id("msg")
            yield MessageCreated(self.id, message_id, index, step.agent_id, step.name, step.model,
                                 step.show_streaming_message)
            builder = ReplyBuilder(step.model, self._clock) if self._clock else ReplyBuilder(step.model)
            request = CompletionRequest(
                model=split_ref(step.model),
                messages=build_messages(step, self.history, earlier),
                params=step.params,
                stream=step.stream if self.stream_override is None else self.stream_override,
            )
            status: MessageStatus = "complete"
            error: ProviderError | None = None
            async for event in self._complete(step.model, request, builder, message_id):
                if isinstance(event, _Ended):
                    status, error = event.status, event.error
                else:
                    yield event
            completed = MessageCompleted(self.id, message_id, index, step.agent_id, step.name, builder.freeze(),
                                         status, mend(str(error)) if error else None)
            self.completed.append(completed)
            yield completed
            if status == "interrupted":
                yield RunCancelled(self.id)
                return
            if error is not None:
                error.partial = completed.reply.text
                # A server's words may carry surrogates, which no UTF-8 stream or database takes.
                error.args = (mend(str(error)),)
                yield RunFailed(self.id, error)
                return
            earlier.append(StepOutput(step.name, completed.reply.text))
        yield RunCompleted(self.id)

    async def _complete(self, model_ref: str, request: CompletionRequest, builder: ReplyBuilder,
                        message_id: str) -> AsyncIterator[MessageDelta | _Ended]:
        provider = self.providers.for_model(model_ref)
        delays = iter(self._retry_delays)
        while True:
            chunks = provider.stream(request)
            try:
                while not self._cancel_requested:
                    self._waiting_on_provider = True
                    try:
                        chunk = await anext(chunks)
                    except StopAsyncIteration:
                        break
                    finally:
                        self._waiting_on_provider = False
                    chunk = builder.add(chunk)
                    if chunk.text or chunk.thinking:
                        yield MessageDelta(self.id, message_id, chunk.text, chunk.thinking)
                if self._cancel_requested:
                    yield _Ended("interrupted")
                return
            except asyncio.CancelledError:
                if not self._cancel_requested:
                    raise
                self._uncancel()
                yield _Ended("interrupted")
                return
            except ServerBusy as busy:
                # Safe to try again only while nothing of this reply has arrived: no text is ever doubled.
                delay = next(delays, None) if builder.chunks == 0 else None
                if delay is None:
                    yield _Ended("failed", busy)
                    return
            except ProviderError as failure:
                yield _Ended("failed", failure)
                return
            finally:
                await chunks.aclose()
            if not await self._sleep(delay):
                yield _Ended("interrupted")
                return

    async def _sleep(self, seconds: float) -> bool:
        """Wait before a retry; False when the run was cancelled meanwhile."""
        self._waiting_on_provider = True
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            if not self._cancel_requested:
                raise
            self._uncancel()
            return False
        finally:
            self._waiting_on_provider = False
        return not self._cancel_requested

    def _uncancel(self) -> None:
        if self._task is not None:
            self._task.uncancel()


@dataclass(frozen=True, slots=True)
class _Ended:
    status: MessageStatus
    error: ProviderError | None = None

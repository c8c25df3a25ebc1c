"""Run an agent on a conversation: each step one completion (or, with tools, completions and tool calls in turn),
each a run of events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypeVar

from salon.agents.definition import Agent, Step
from salon.errors import ProviderError, RunError, ServerBusy, ToolError
from salon.events import (
    DECISIONS,
    Decision,
    Event,
    MessageCompleted,
    MessageStatus,
    RequiresAction,
    RunCancelled,
    RunCompleted,
    RunCreated,
    RunFailed,
    StepCompleted,
    ToolCall,
    ToolsStarted,
    ToolStatus,
    ToolsUnavailable,
)
from salon.ids import new_id
from salon.providers import ChatMessage, CompletionRequest, Providers, split_ref
from salon.reply import Chunk
from salon.runner.completion import Completion
from salon.tools.host import parse_arguments

if TYPE_CHECKING:
    from salon.tools.approvals import Approvals
    from salon.tools.host import ToolHost, ToolSet

T = TypeVar("T")

BUSY_RETRY_DELAYS = (0.5, 1.5, 3.0)



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


def unavailable_note(unavailable: Mapping[str, str]) -> str:
    """What the model is told of servers whose tools it was not given, so it says so instead of guessing."""
    names = ", ".join(f"'{server}'" for server in unavailable)
    return (f"Note from Salon: the tools of the MCP server(s) {names} could not be started for this reply, so they "
            "are not offered. If the user's request needs them, say that those tools are unavailable right now.")


def with_note(messages: list[ChatMessage], note: str) -> list[ChatMessage]:
    """``messages`` with ``note`` added to the system prompt (one system message: some templates read only one)."""
    if messages and messages[0].role == "system":
        return [replace(messages[0], content=f"{messages[0].content}\n\n{note}"), *messages[1:]]
    return [ChatMessage("system", note), *messages]


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
        tools: ToolHost | None = None,
        approvals: Approvals | None = None,
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
        self.tools = tools
        self.approvals = approvals
        self._decisions: dict[str, Decision] = {}
        self._decided = asyncio.Event()
        self._waiting: set[str] = set()

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
        if call_id not in self._waiting:
            raise KeyError(f"the run is not waiting for a decision on tool call {call_id!r}")
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
            said: list[str] = []
            async for event in self._step(index, step, earlier, said):
                yield event
                if isinstance(event, RunCancelled | RunFailed):
                    return
            earlier.append(StepOutput(step.name, "\n\n".join(t for t in said if t)))
        yield RunCompleted(self.id)

    async def _step(self, index: int, step: Step, earlier: Sequence[StepOutput], said: list[str]
                    ) -> AsyncIterator[Event]:
        """One step: a completion, and while it asks for tools, the calls and the next completion."""
        messages = build_messages(step, self.history, earlier)
        toolset: ToolSet | None = None
        rounds = 0
        while True:
            if rounds and self._cancel_requested:  # cancelled as the tool step ended: no new message
                yield RunCancelled(self.id)
                return
            completion = Completion(self.id, index, step, self._clock, self.completed)
            yield completion.open()
            if step.tools and toolset is None:
                offered = await self._interruptible(self._offer(step))
                if isinstance(offered, Ended):
                    async for event in completion.end(offered.status, offered.error):
                        yield event
                    return
                toolset = offered
                if toolset.unavailable:
                    assert completion.message_id is not None
                    yield ToolsUnavailable(self.id, completion.message_id, tuple(toolset.unavailable.items()))
                    messages = with_note(messages, unavailable_note(toolset.unavailable))
            request = CompletionRequest(
                model=split_ref(step.model),
                messages=tuple(messages),
                params=step.params,
                stream=step.stream if self.stream_override is None else self.stream_override,
                tools=toolset.specs if toolset else (),
            )
            status: MessageStatus = "complete"
            error: RunError | None = None
            async for item in self._complete(step.model, request):
                if isinstance(item, Ended):
                    status, error = item.status, item.error
                else:
                    for event in completion.feed(item, toolset):
                        yield event
            async for event in completion.end(status, error):
                yield event
            said.extend(completion.texts)
            if status != "complete" or error is not None:
                return
            if not completion.calls:
                return
            rounds += 1
            calls = completion.resolve(toolset)
            async for event in self._run_calls(completion, calls, rounds > step.max_iterations, step):
                yield event
                if isinstance(event, RunCancelled | RunFailed):
                    return
            messages.extend(completion.messages_for_model())

    async def _offer(self, step: Step) -> ToolSet:
        if self.tools is None:
            raise ToolError("this agent uses tools, but no MCP servers are available here")
        return await self.tools.offer(step.tools)

    async def _run_calls(self, completion: Completion, calls: list[ToolCall], over_limit: bool, step: Step
                         ) -> AsyncIterator[Event]:
        """Ask about the calls that need it, run the approved ones, and report the step."""
        assert completion.step_id is not None
        step_id = completion.step_id
        if over_limit:
            limit = ToolError(f"{self.agent.name} asked for tools {step.max_iterations} times in a row without "
                                  f"answering (max_iterations = {step.max_iterations} in its agent file); Salon "
                                  "stopped it there. Everything so far is kept.")
            calls = [replace(c, status="cancelled", error="not run: max_iterations reached") if c.status == "waiting"
                     else c for c in calls]
            completion.calls_done = calls
            yield StepCompleted(self.id, step_id, tuple(calls), "cancelled", completion.usage)
            yield RunFailed(self.id, limit)
            return
        waiting = []
        for position, call in enumerate(calls):
            if call.status != "waiting":
                continue
            why = self.approvals.allowed(self.agent.id, call.server, call.tool) if self.approvals else None
            if why is None:
                waiting.append(call)
            else:
                calls[position] = replace(call, status="running")
        if waiting:
            self._waiting = {call.id for call in waiting}
            yield RequiresAction(self.id, step_id, tuple(waiting))
            answered = await self._interruptible(self._decisions_for(self._waiting))
            self._waiting = set()
            if isinstance(answered, Ended):
                yield self._stopped(step_id, calls, completion)
                yield RunCancelled(self.id)
                return
            for position, call in enumerate(calls):
                decision = answered.get(call.id)
                if decision == "deny":
                    calls[position] = replace(call, status="denied", error="denied by the user")
                elif decision is not None:
                    if decision == "always" and self.approvals is not None:
                        self.approvals.remember(self.agent.id, call.server, call.tool)
                    calls[position] = replace(call, status="running")
        yield ToolsStarted(self.id, step_id, tuple(calls))
        for position, call in enumerate(calls):
            if call.status != "running":
                continue
            assert self.tools is not None
            result = await self._interruptible(self.tools.call(call.server, call.tool,
                                                               parse_arguments(call.arguments)))
            if isinstance(result, Ended):
                calls[position] = replace(call, status="cancelled", error="cancelled while it ran")
                yield self._stopped(step_id, calls, completion)
                yield RunCancelled(self.id)
                return
            status: ToolStatus = "failed" if result.error is not None else "completed"
            calls[position] = replace(call, status=status, output=result.output, error=result.error)
        completion.calls_done = calls
        yield StepCompleted(self.id, step_id, tuple(calls), "completed", completion.usage)

    def _stopped(self, step_id: str, calls: list[ToolCall], completion: Completion) -> StepCompleted:
        final = ("completed", "failed", "denied")
        done = [c if c.status in final else replace(c, status="cancelled", error=c.error or "cancelled")
                for c in calls]
        completion.calls_done = done
        return StepCompleted(self.id, step_id, tuple(done), "cancelled", completion.usage)

    async def _decisions_for(self, ids: set[str]) -> dict[str, Decision]:
        while not ids <= self._decisions.keys():
            self._decided.clear()
            await self._decided.wait()
        return {call_id: self._decisions[call_id] for call_id in ids}

    async def _interruptible(self, awaitable: Awaitable[T]) -> T | Ended:
        """Await what a cancel should interrupt at once (tools, approval); a ToolError fails the message."""
        if self._cancel_requested:
            close = getattr(awaitable, "close", None)
            if close is not None:
                close()
            return Ended("interrupted")
        self._waiting_on_provider = True
        try:
            return await awaitable
        except asyncio.CancelledError:
            if not self._cancel_requested:
                raise
            self._uncancel()
            return Ended("interrupted")
        except ToolError as error:
            return Ended("failed", error)
        finally:
            self._waiting_on_provider = False

    async def _complete(self, model_ref: str, request: CompletionRequest) -> AsyncGenerator[Chunk | Ended]:
        """The provider's chunks for ``request``, then an :class:`Ended` if the reply was cut short.

        A busy server is tried again while nothing of the reply has arrived; a cancel interrupts the wait at once
        (the task waiting is ``_task``). Python agents' completions come through here too.
        """
        provider = self.providers.for_model(model_ref)
        delays = iter(self._retry_delays)
        received = 0
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
                    if chunk.text or chunk.thinking or chunk.tool_calls:
                        received += 1
                    yield chunk
                if self._cancel_requested:
                    yield Ended("interrupted")
                return
            except asyncio.CancelledError:
                if not self._cancel_requested:
                    raise
                self._uncancel()
                yield Ended("interrupted")
                return
            except ServerBusy as busy:
                # Safe to try again only while nothing of this reply has arrived: no text is ever doubled.
                delay = next(delays, None) if received == 0 else None
                if delay is None:
                    yield Ended("failed", busy)
                    return
            except ProviderError as failure:
                yield Ended("failed", failure)
                return
            finally:
                if isinstance(chunks, AsyncGenerator):  # closed now, so a cancel stops the request at once
                    await chunks.aclose()
            if not await self._sleep(delay):
                yield Ended("interrupted")
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
class Ended:
    """How a wait of the run's ended when it did not give its value: ``interrupted`` (a cancel) or ``failed``."""

    status: MessageStatus
    error: RunError | None = None

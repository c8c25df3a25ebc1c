"""Saving a run as it streams: the reply is checkpointed about once a second and replaced by its final text."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from salon.events import (
    Event,
    MessageCompleted,
    MessageCreated,
    MessageDelta,
    RequiresAction,
    StepCompleted,
    StepCreated,
    StepDelta,
    ToolCall,
)

if TYPE_CHECKING:
    from salon.events import MessageStatus
    from salon.messages import Message
    from salon.reply import Reply


class ReplyWriter(Protocol):
    """What a recorder writes through (:class:`salon.store.database.Store`, which makes recorders: a protocol keeps
    the two modules from importing each other)."""

    def start_reply(self, conversation_id: str, message_id: str, *, agent_id: str, agent_name: str,
                    model: str, created_at: float | None = None) -> None: ...
    def checkpoint_reply(self, message_id: str, text: str, thinking: str) -> None: ...
    def finish_reply(self, message_id: str, reply: Reply, status: MessageStatus, error: str | None = None) -> bool: ...
    def message(self, message_id: str) -> Message: ...
    def save_tool_calls(self, message_id: str, calls: Sequence[ToolCall]) -> None: ...


CHECKPOINT_INTERVAL = 1.0  # seconds: at most this much streamed text is lost if the process is killed


@dataclass(slots=True)
class _Partial:
    created: MessageCreated
    last_write: float
    text: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    dirty: bool = False


@dataclass(slots=True)
class _Step:
    """A tool step's calls as they stream, kept in memory until the run asks about them or they end."""

    message_id: str
    calls: dict[int, ToolCall] = field(default_factory=dict)


class Recorder:
    """Feeds one run's events into a conversation. Call :meth:`handle` with every event, :meth:`flush` on
    cancel or quit.

    ``message.created`` inserts the reply (status ``streaming``) under the event's message id; deltas are kept
    in memory and written at most once per ``interval`` of ``clock``, never per token; ``message.completed``
    writes the final text, status, usage, timings and error over the checkpoint. A reply deleted meanwhile (its
    conversation deleted while it streamed) is simply not written again. Errors are :class:`salon.store.StoreError`
    (disk full, conversation gone before the reply began) and leave the run itself alone: the caller decides
    whether to go on.
    """

    def __init__(self, store: ReplyWriter, conversation_id: str, clock: Callable[[], float] = time.monotonic,
                 interval: float = CHECKPOINT_INTERVAL) -> None:
        self.store = store
        self.conversation_id = conversation_id
        self._clock = clock
        self._interval = interval
        self._partials: dict[str, _Partial] = {}
        self._finished: dict[str, MessageCompleted] = {}
        self._steps: dict[str, _Step] = {}
        # What this run has said so far, kept until it ends, so that it can all be written again elsewhere (see
        # move_to): every write below changes this first, then the store.
        self._calls: dict[str, dict[int, ToolCall]] = {}

    def handle(self, event: Event) -> None:
        match event:
            case MessageCreated():
                self._start(event)
            case MessageDelta():
                partial = self._partials.get(event.message_id)
                if partial is None:
                    return
                if event.text:
                    partial.text.append(event.text)
                if event.thinking:
                    partial.thinking.append(event.thinking)
                partial.dirty = True
                if self._clock() - partial.last_write >= self._interval:
                    self._checkpoint(event.message_id, partial)
            case MessageCompleted():
                started = self._partials.pop(event.message_id, None) is not None
                self._finished[event.message_id] = event
                if not started:
                    # A recorder attached after the message began: the final text is all there is to keep.
                    self._start_finished(event)
                self.store.finish_reply(event.message_id, event.reply, event.status, event.error)
            case StepCreated():
                self._steps[event.step_id] = _Step(event.message_id)
            case StepDelta():
                step = self._steps.get(event.step_id)
                if step is None:
                    return
                call = step.calls.get(event.index) or ToolCall(event.call_id, event.index, "", "", "")
                if event.tool:
                    call = replace(call, server=event.server, tool=event.tool, function=event.function)
                step.calls[event.index] = replace(call, arguments=call.arguments + event.arguments)
            case RequiresAction():
                # Written before the run waits: a user who quits now finds the question's calls kept.
                step = self._steps.get(event.step_id)
                if step is not None:
                    step.calls.update({call.index: call for call in event.calls})
                    self._save_calls(step.message_id, list(step.calls.values()))
            case StepCompleted():
                step = self._steps.pop(event.step_id, None)
                if step is not None:
                    self._save_calls(step.message_id, event.calls)

    def flush(self) -> None:
        """Write now whatever has streamed since the last checkpoint."""
        for message_id, partial in self._partials.items():
            if partial.dirty:
                self._checkpoint(message_id, partial)
        for step in self._steps.values():
            # The run ended before the step did (the face quit): its calls are kept, never to run.
            unfinished = [call if call.status in ("completed", "failed", "denied")
                          else replace(call, status="cancelled", error=call.error or "the run ended before it ran")
                          for call in step.calls.values()]
            self._save_calls(step.message_id, unfinished)
        self._steps.clear()

    def move_to(self, store: ReplyWriter) -> None:
        """Go on saving into ``store`` (the face's in-memory one, when the database failed), which holds this
        conversation as it was before the run: what the run has said so far is written there first."""
        from salon.store.errors import MessageNotFound

        self.store = store

        def missing(message_id: str) -> bool:
            try:
                store.message(message_id)
            except MessageNotFound:
                return True
            return False

        for message_id, done in self._finished.items():
            if missing(message_id):
                self._start_finished(done)
                store.finish_reply(message_id, done.reply, done.status, done.error)
        for message_id, partial in self._partials.items():
            if missing(message_id):
                self._start(partial.created, register=False)
            self._checkpoint(message_id, partial)
        for message_id, calls in self._calls.items():
            store.save_tool_calls(message_id, list(calls.values()))

    def _save_calls(self, message_id: str, calls: Sequence[ToolCall]) -> None:
        self._calls.setdefault(message_id, {}).update({call.index: call for call in calls})
        self.store.save_tool_calls(message_id, calls)

    def _start(self, event: MessageCreated, *, register: bool = True) -> None:
        if register:
            self._partials[event.message_id] = _Partial(event, self._clock())
        self.store.start_reply(self.conversation_id, event.message_id, agent_id=event.agent_id,
                               agent_name=event.agent_name, model=event.model, created_at=event.created_at)

    def _start_finished(self, event: MessageCompleted) -> None:
        self.store.start_reply(self.conversation_id, event.message_id, agent_id=event.agent_id,
                               agent_name=event.agent_name, model=event.reply.model)

    def _checkpoint(self, message_id: str, partial: _Partial) -> None:
        self.store.checkpoint_reply(message_id, "".join(partial.text), "".join(partial.thinking))
        partial.last_write = self._clock()
        partial.dirty = False

"""One completion of a run turned into events: its text as messages, its tool calls as a ``tool_calls`` step.

Text and tool calls are kept apart as OpenAI's Assistants stream keeps them: the message holding the text before
the first tool call completes when that call starts streaming (``thread.message.completed`` before
``thread.run.step.created``), and text the model writes after its calls opens a message of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from salon.events import (
    Event,
    MessageCompleted,
    MessageCreated,
    MessageDelta,
    MessageStatus,
    RunCancelled,
    RunFailed,
    StepCompleted,
    StepCreated,
    StepDelta,
    ToolCall,
)
from salon.ids import new_id
from salon.messages import ChatMessage, ToolCallPart, model_turns
from salon.reply import Chunk, ReplyBuilder, Usage
from salon.surrogates import mend

if TYPE_CHECKING:
    from salon.agents.definition import Step
    from salon.errors import RunError
    from salon.tools.host import ToolSet


@dataclass(slots=True)
class _Assembling:
    id: str
    function: str
    arguments: str = ""
    server: str = ""
    tool: str = ""


class Completion:
    """The events of one completion, fed chunk by chunk; :meth:`end` closes it."""

    def __init__(self, run_id: str, index: int, step: Step, clock: Callable[[], float] | None,
                 completed: list[MessageCompleted]) -> None:
        self.run_id = run_id
        self.index = index
        self.step = step
        self._clock = clock
        self._completed = completed
        self.message_id = ""
        self.builder = self._builder()
        self.open_message = False
        self.step_id: str | None = None
        self.texts: list[str] = []
        self.text_before = ""
        self.usage: Usage | None = None
        self._pieces: dict[int, _Assembling] = {}
        self.calls_done: list[ToolCall] = []

    @property
    def calls(self) -> bool:
        return bool(self._pieces)

    def _builder(self) -> ReplyBuilder:
        model = self.step.model
        return ReplyBuilder(model, self._clock) if self._clock else ReplyBuilder(model)

    def open(self) -> MessageCreated:
        self.message_id = new_id("msg")
        self.open_message = True
        step = self.step
        return MessageCreated(self.run_id, self.message_id, self.index, step.agent_id, step.name, step.model,
                              step.show_streaming_message)

    def feed(self, chunk: Chunk, toolset: ToolSet | None) -> list[Event]:
        events: list[Event] = []
        if chunk.tool_calls:
            if self.open_message:
                events.append(self._complete_message("complete", None))
                self.builder = self._builder()  # what follows (usage, text after the calls) is measured apart
            if self.step_id is None:
                self.step_id = new_id("step")
                step = self.step
                events.append(StepCreated(self.run_id, self.step_id, self.message_id, self.index, step.agent_id,
                                          step.name))
            for piece in chunk.tool_calls:
                call = self._pieces.get(piece.index)
                named = ""
                if call is None:
                    call = self._pieces[piece.index] = _Assembling(piece.id or new_id("call"), piece.name or "")
                    named = call.function
                elif piece.name and not call.function:
                    call.function = named = piece.name
                if named:
                    offered = toolset.find(named) if toolset else None
                    call.server, call.tool = (offered.server, offered.tool) if offered else ("", named)
                call.arguments += piece.arguments
                events.append(StepDelta(self.run_id, self.step_id, piece.index, call.id,
                                        call.server if named else "", call.tool if named else "", piece.arguments,
                                        named))
        kept = self.builder.add(chunk)
        if kept.text or kept.thinking:
            if not self.open_message:
                events.append(self.open())
            events.append(MessageDelta(self.run_id, self.message_id, kept.text, kept.thinking))
        return events

    def _complete_message(self, status: MessageStatus, error: RunError | None) -> MessageCompleted:
        self.open_message = False
        step = self.step
        completed = MessageCompleted(self.run_id, self.message_id, self.index, step.agent_id, step.name,
                                     self.builder.freeze(), status, mend(str(error)) if error else None)
        self._completed.append(completed)
        self.texts.append(completed.reply.text)
        if self.step_id is None:
            self.text_before += completed.reply.text
        return completed

    def close(self, status: MessageStatus, error: RunError | None = None) -> MessageCompleted:
        """Complete the open message alone, the run going on: a Python agent's completion that ended."""
        return self._complete_message(status, error)

    async def end(self, status: MessageStatus, error: RunError | None) -> AsyncIterator[Event]:
        """The last events of the completion: its open message, and a run end when it was cut short."""
        if self.open_message:
            yield self._complete_message(status, error)
        elif self.step_id is not None:
            self.usage = self.builder.freeze().usage
        if status == "interrupted":
            if self.step_id is not None:
                yield self._unfinished("cancelled", "cancelled before the model finished the call")
            yield RunCancelled(self.run_id)
        elif error is not None:
            if self.step_id is not None:
                yield self._unfinished("failed", "the reply stopped before the call was complete; not run")
            error.partial = "\n\n".join(t for t in self.texts if t)
            # A server's words may carry surrogates, which no UTF-8 stream or database takes.
            error.args = (mend(str(error)),)
            yield RunFailed(self.run_id, error)

    def _unfinished(self, status: str, why: str) -> StepCompleted:
        assert self.step_id is not None
        self.calls_done = [ToolCall(c.id, i, c.server, c.tool, c.arguments, status, error=why,  # type: ignore[arg-type]
                                    function=c.function)
                           for i, c in sorted(self._pieces.items())]
        return StepCompleted(self.run_id, self.step_id, tuple(self.calls_done), status, self.usage)  # type: ignore[arg-type]

    def resolve(self, toolset: ToolSet | None) -> list[ToolCall]:
        """The assembled calls, each ``waiting`` for approval or already ``failed`` (unknown tool, bad JSON)."""
        from salon.tools.host import parse_arguments

        calls = []
        for index, piece in sorted(self._pieces.items()):
            offered = toolset.find(piece.function) if toolset else None
            call = ToolCall(piece.id, index, piece.server, piece.tool, piece.arguments, "waiting",
                            function=piece.function)
            if offered is None:
                names = ", ".join(sorted(toolset.by_function)) if toolset else "none"
                call = replace(call, status="failed", error=f"the model asked for a tool it was not offered: "
                                                            f"{piece.function!r} (offered: {names}); not run")
            else:
                try:
                    parse_arguments(piece.arguments)
                except ValueError as problem:
                    call = replace(call, status="failed", error=f"{problem}; not run")
            calls.append(call)
        self.calls_done = calls
        return calls

    def messages_for_model(self) -> list[ChatMessage]:
        """The assistant's turn with its calls, and one ``tool`` turn per call, for the next completion: built as
        a stored conversation builds them (:func:`salon.messages.model_turns`), so continuing it later sends the
        same turns."""
        return model_turns("assistant", self.text_before, [ToolCallPart.of(call) for call in self.calls_done])

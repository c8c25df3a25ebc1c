"""The events of one run, the only thing the faces of Salon share with the runner.

Names follow the OpenAI Assistants streaming events so an HTTP face can send them unchanged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from salon.errors import ProviderError
from salon.reply import Reply, Usage

MessageStatus = Literal["streaming", "complete", "interrupted", "failed"]
ToolStatus = Literal["streaming", "waiting", "running", "completed", "failed", "denied", "cancelled"]
StepStatus = Literal["completed", "failed", "cancelled"]


def _now() -> float:
    return time.time()


@dataclass(frozen=True, slots=True)
class RunCreated:
    run_id: str
    agent_id: str
    agent_name: str
    steps: int
    created_at: float = field(default_factory=_now)

    name = "thread.run.created"


@dataclass(frozen=True, slots=True)
class MessageCreated:
    run_id: str
    message_id: str
    step: int
    agent_id: str
    agent_name: str
    model: str
    show_streaming_message: bool
    created_at: float = field(default_factory=_now)

    name = "thread.message.created"


@dataclass(frozen=True, slots=True)
class MessageDelta:
    run_id: str
    message_id: str
    text: str = ""
    thinking: str = ""

    name = "thread.message.delta"


@dataclass(frozen=True, slots=True)
class MessageCompleted:
    """The end of one message: ``reply`` holds the final (or, if not complete, the partial) text."""

    run_id: str
    message_id: str
    step: int
    agent_id: str
    agent_name: str
    reply: Reply
    status: MessageStatus = "complete"
    error: str | None = None

    @property
    def name(self) -> str:  # type: ignore[override]
        return "thread.message.completed" if self.status == "complete" else "thread.message.incomplete"


@dataclass(frozen=True, slots=True)
class RunCompleted:
    run_id: str

    name = "thread.run.completed"


@dataclass(frozen=True, slots=True)
class RunFailed:
    """The run stopped on ``exception``, the typed error itself: faces match on its type, never on a name."""

    run_id: str
    exception: ProviderError

    name = "thread.run.failed"

    @property
    def error(self) -> str:
        return str(self.exception)

    @property
    def error_type(self) -> str:
        """The error's class name: a wire code for the HTTP face, not something to branch on."""
        return type(self.exception).__name__

    @property
    def retryable(self) -> bool:
        return self.exception.retryable


@dataclass(frozen=True, slots=True)
class RunCancelled:
    run_id: str

    name = "thread.run.cancelled"


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call of a ``tool_calls`` run step, as far as it has got (not an event itself).

    ``arguments`` is the JSON text as the model sent it, even when it is not valid JSON.
    """

    id: str
    index: int
    server: str
    tool: str
    arguments: str
    status: ToolStatus = "streaming"
    output: str | None = None
    error: str | None = None
    function: str = ""
    """The function name the model was offered and called it by (kept, so a continued conversation repeats it)."""

    @property
    def name(self) -> str:
        """``server.tool``, the name agents' ``tools`` patterns and approvals use."""
        return f"{self.server}.{self.tool}" if self.server else self.tool


@dataclass(frozen=True, slots=True)
class StepCreated:
    """A ``tool_calls`` run step began: the first tool call of a completion started streaming."""

    run_id: str
    step_id: str
    message_id: str
    step: int
    agent_id: str
    agent_name: str
    created_at: float = field(default_factory=_now)

    name = "thread.run.step.created"


@dataclass(frozen=True, slots=True)
class StepDelta:
    """A new piece of one tool call's arguments (append per ``index``); server and tool come on its first delta."""

    run_id: str
    step_id: str
    index: int
    call_id: str
    server: str = ""
    tool: str = ""
    arguments: str = ""
    function: str = ""
    """The function name the model called (with server and tool, on the first delta)."""

    name = "thread.run.step.delta"


@dataclass(frozen=True, slots=True)
class RequiresAction:
    """The run waits for :meth:`salon.runner.run.Run.decide` on each of ``calls``."""

    run_id: str
    step_id: str
    calls: tuple[ToolCall, ...]

    name = "thread.run.requires_action"


@dataclass(frozen=True, slots=True)
class ToolsStarted:
    """The step's calls are answered and the allowed ones start to run (``running``; the others ``denied``).

    Sent whether or not the user was asked: a call the user's config allows runs without a question, and a face
    must still be able to show it running rather than still arriving.
    """

    run_id: str
    step_id: str
    calls: tuple[ToolCall, ...]

    name = "thread.run.in_progress"


@dataclass(frozen=True, slots=True)
class StepCompleted:
    """The step's calls have run (or were denied, failed, cancelled): each carries its output or error."""

    run_id: str
    step_id: str
    calls: tuple[ToolCall, ...]
    status: StepStatus = "completed"
    usage: Usage | None = None
    """The token counts of the completion that made the calls, when they arrived after its text had ended."""

    @property
    def name(self) -> str:  # type: ignore[override]
        return {"completed": "thread.run.step.completed", "failed": "thread.run.step.failed",
                "cancelled": "thread.run.step.cancelled"}[self.status]


Event = (RunCreated | MessageCreated | MessageDelta | MessageCompleted | StepCreated | StepDelta | RequiresAction
         | ToolsStarted | StepCompleted | RunCompleted | RunFailed | RunCancelled)
RunEnd = RunCompleted | RunFailed | RunCancelled


def to_openai(event: Event) -> dict[str, Any]:
    """The event as the ``data`` object of an OpenAI Assistants stream event."""
    match event:
        case RunCreated():
            return {"id": event.run_id, "object": "thread.run", "status": "queued",
                    "assistant_id": event.agent_id, "created_at": int(event.created_at)}
        case MessageCreated():
            return {"id": event.message_id, "object": "thread.message", "run_id": event.run_id,
                    "assistant_id": event.agent_id, "role": "assistant", "status": "in_progress",
                    "content": [], "created_at": int(event.created_at),
                    "metadata": {"model": event.model, "agent_name": event.agent_name}}
        case MessageDelta():
            content = []
            if event.text:
                content.append({"index": 0, "type": "text", "text": {"value": event.text}})
            if event.thinking:
                content.append({"index": 1, "type": "thinking", "thinking": {"value": event.thinking}})
            return {"id": event.message_id, "object": "thread.message.delta", "delta": {"content": content}}
        case MessageCompleted():
            reply = event.reply
            data: dict[str, Any] = {
                "id": event.message_id, "object": "thread.message", "run_id": event.run_id,
                "assistant_id": event.agent_id, "role": "assistant",
                "status": "completed" if event.status == "complete" else "incomplete",
                "content": [{"type": "text", "text": {"value": reply.text, "annotations": []}}],
                "metadata": reply.metadata(),
            }
            if event.status != "complete":
                data["incomplete_details"] = {"reason": event.status, "error": event.error}
            return data
        case StepCreated():
            return {"id": event.step_id, "object": "thread.run.step", "run_id": event.run_id,
                    "assistant_id": event.agent_id, "type": "tool_calls", "status": "in_progress",
                    "created_at": int(event.created_at),
                    "step_details": {"type": "tool_calls", "tool_calls": []},
                    "metadata": {"message_id": event.message_id, "agent_name": event.agent_name}}
        case StepDelta():
            function: dict[str, Any] = {"arguments": event.arguments}
            if event.tool:
                function["name"] = _function_name(event.server, event.tool)
            call = {"index": event.index, "id": event.call_id, "type": "function", "function": function}
            return {"id": event.step_id, "object": "thread.run.step.delta",
                    "delta": {"step_details": {"type": "tool_calls", "tool_calls": [call]}}}
        case RequiresAction():
            return {"id": event.run_id, "object": "thread.run", "status": "requires_action",
                    "required_action": {"type": "submit_tool_outputs", "submit_tool_outputs": {
                        "tool_calls": [{"id": c.id, "type": "function",
                                        "function": {"name": _function_name(c.server, c.tool),
                                                     "arguments": c.arguments}} for c in event.calls]}},
                    "metadata": {"step_id": event.step_id}}
        case ToolsStarted():
            # OpenAI's run goes back in progress once its tool calls are answered; which calls now run is Salon's
            # addition, in the run's metadata.
            return {"id": event.run_id, "object": "thread.run", "status": "in_progress", "required_action": None,
                    "metadata": {"step_id": event.step_id,
                                 "tool_calls": [{"id": c.id, "status": c.status} for c in event.calls]}}
        case StepCompleted():
            data = {"id": event.step_id, "object": "thread.run.step", "run_id": event.run_id,
                    "type": "tool_calls", "status": event.status,
                    "step_details": {"type": "tool_calls", "tool_calls": [_step_call(c) for c in event.calls]}}
            if event.usage is not None:
                data["usage"] = {"prompt_tokens": event.usage.input_tokens,
                                 "completion_tokens": event.usage.output_tokens}
            return data
        case RunCompleted():
            return {"id": event.run_id, "object": "thread.run", "status": "completed"}
        case RunFailed():
            return {"id": event.run_id, "object": "thread.run", "status": "failed",
                    "last_error": {"code": event.error_type, "message": event.error}}
        case RunCancelled():
            return {"id": event.run_id, "object": "thread.run", "status": "cancelled"}
    raise TypeError(f"not an event: {event!r}")


def _function_name(server: str, tool: str) -> str:
    return f"{server}.{tool}" if server else tool


def _step_call(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "index": call.index, "type": "function",
            "function": {"name": _function_name(call.server, call.tool), "arguments": call.arguments,
                         "output": call.output},
            "status": call.status, "error": call.error}

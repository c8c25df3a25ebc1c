"""The events of one run, the only thing the faces of Salon share with the runner.

Names follow the OpenAI Assistants streaming events so an HTTP face can send them unchanged; their payloads in
that shape are the HTTP face's (:func:`salon.serve.payloads.to_openai`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from salon.errors import RunError
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
    exception: RunError

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


Decision = Literal["once", "always", "deny"]
"""The answer to a tool call the run asked about (:class:`RequiresAction`): every face gives one of these."""
DECISIONS: tuple[Decision, ...] = ("once", "always", "deny")


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
class ToolsUnavailable:
    """Some MCP servers of the step could not be used (they would not start or list their tools).

    The run goes on with the tools of the others, and the model is told which are missing; every face shows
    :attr:`notice` so the user knows why a tool was not used. Salon's own event, not one of OpenAI's.
    """

    run_id: str
    message_id: str
    servers: tuple[tuple[str, str], ...]
    """``(server, why)`` for each server left out."""

    name = "thread.run.tools_unavailable"

    @property
    def notice(self) -> str:
        """One line per server: which tools are missing and why."""
        return "\n".join(f"the tools of MCP server '{server}' are not available for this reply: {why}"
                         for server, why in self.servers)


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
         | ToolsStarted | ToolsUnavailable | StepCompleted | RunCompleted | RunFailed | RunCancelled)

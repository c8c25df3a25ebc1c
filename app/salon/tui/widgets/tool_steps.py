"""The tool steps of one run in a chat view: a row per call where its reply is, and the approval questions.

The run streams a call's arguments (``StepDelta``), asks before it runs (``RequiresAction``) and reports its end
(``StepCompleted``); this object keeps the row of each call up to date in the message the call belongs to, and asks
the user, one call at a time, in an :class:`ApprovalScreen`, which the screen shows when asked (:class:`AskApproval`,
a message: a widget's part does not push screens). It answers the run with ``run.decide``; Esc in the dialog stops
the run instead (``run.cancel``), which the run ends ``cancelled`` with everything so far kept.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from textual.message import Message

from salon.events import (
    Decision,
    RequiresAction,
    RunCompleted,
    RunFailed,
    StepCompleted,
    StepCreated,
    StepDelta,
    ToolCall,
    ToolsStarted,
)
from salon.tui.widgets.message import FinalMessage
from salon.tui.widgets.tool_call import STATUS_TEXT, ToolCallRow

if TYPE_CHECKING:
    from collections.abc import Iterable

    from textual.app import App
    from textual.message import Message

    from salon.agents.definition import Agent
    from salon.runner.run import Run
    from salon.tui.conversation import ConversationData

ToolEvent = StepCreated | StepDelta | RequiresAction | ToolsStarted | StepCompleted

UNFINISHED = ("streaming", "waiting", "running")

STOPPED_WAITING = "Stopped: the tool was not run. Everything that arrived before is kept."
STOPPED_RUNNING = "Stopped while a tool was running: its result is not used. Everything that arrived before is kept."


class StepsView(Protocol):
    """What the steps use of the chat view that holds them (a :class:`~salon.tui.widgets.chat_view.ChatView`,
    which imports this module)."""

    @property
    def agent(self) -> Agent: ...
    @property
    def data(self) -> ConversationData: ...
    @property
    def display(self) -> bool: ...
    @property
    def app(self) -> App[Any]: ...
    def query(self, selector: type[FinalMessage]) -> Iterable[FinalMessage]: ...
    def post_message(self, message: Message) -> bool: ...
    def tool_activity(self, text: str) -> None: ...
    def stop_reply(self) -> None: ...


class Dialog(Protocol):
    """What the steps do with the approval dialog the screen built: close it when the run ends first."""

    @property
    def is_attached(self) -> bool: ...
    @property
    def is_current(self) -> bool: ...
    def dismiss(self, result: Any = None) -> Any: ...


@dataclass(frozen=True, eq=False)
class Question:
    """One tool call to ask about: what the screen's approval dialog shows."""

    call: ToolCall
    agent: str
    waiting: int
    where: str


class AskApproval(Message):
    """A run asks about a tool call: the screen builds the dialog for ``question`` and pushes it with ``answered``
    as its callback, while ``steps.asking(question)`` (the run may have ended before the message arrived). The
    widget never pushes a screen, nor imports one."""

    def __init__(self, steps: ToolSteps, question: Question,
                 answered: Callable[[Decision | None], None]) -> None:
        super().__init__()
        self.steps = steps
        self.question = question
        self.answered = answered


class ToolSteps:
    """One run's tool calls in one chat view."""

    def __init__(self, view: StepsView, run: Run) -> None:
        self.view = view
        self.run = run
        self.rows: dict[str, ToolCallRow] = {}
        self._steps: dict[str, tuple[str, str]] = {}
        """step id → (message id, agent name)."""
        self._asking: deque[tuple[ToolCall, str]] = deque()
        self._question: Question | None = None
        """The call being asked about now; its dialog once the screen has shown one."""
        self._dialog: Dialog | None = None

    # -- the run's events ---------------------------------------------------------------------------------

    async def handle(self, event: ToolEvent) -> None:
        if isinstance(event, StepCreated):
            self._steps[event.step_id] = (event.message_id, event.agent_name)
        elif isinstance(event, StepDelta):
            row = await self._row(event.step_id, event.call_id, event.server, event.tool)
            row.add_arguments(event.arguments, event.server, event.tool)
        elif isinstance(event, RequiresAction):
            for call in event.calls:
                (await self._row(event.step_id, call.id, call.server, call.tool)).update_call(call)
            agent = self._steps.get(event.step_id, ("", self.view.agent.name))[1]
            self._asking.extend((call, agent) for call in event.calls)
            self._ask_next()
        elif isinstance(event, ToolsStarted):
            # Calls the user's config allows were never asked about: only this says they now run.
            for call in event.calls:
                (await self._row(event.step_id, call.id, call.server, call.tool)).update_call(call)
        elif isinstance(event, StepCompleted):
            for call in event.calls:
                (await self._row(event.step_id, call.id, call.server, call.tool)).update_call(call)
        self._report()

    async def _row(self, step_id: str, call_id: str, server: str, tool: str) -> ToolCallRow:
        row = self.rows.get(call_id)
        if row is not None:
            return row
        row = ToolCallRow(call_id, server, tool)
        self.rows[call_id] = row
        # The run completes the message holding the text before a call when the call starts: the row goes there.
        message_id = self._steps.get(step_id, ("", ""))[0]
        finals = list(self.view.query(FinalMessage))
        holder = next((m for m in finals if m.message_id == message_id), finals[-1] if finals else None)
        if holder is not None:
            await holder.add_tool_row(row)
        return row

    def activity(self) -> str:
        """The latest tool call still under way, in words (empty when none is): for the status line."""
        busy = [row for row in self.rows.values() if row.status in UNFINISHED]
        if not busy:
            return ""
        row = busy[-1]
        return f"{row.server} · {row.tool}: {STATUS_TEXT[row.status]}"

    def _report(self) -> None:
        self.view.tool_activity(self.activity())

    def ended(self, event: object) -> None:
        """The run ended (``event`` its last event; None when it was cut off): no question stays open, and no row
        says it is still waiting or running."""
        self._asking.clear()
        self._close_dialog()
        if isinstance(event, RunCompleted):
            return
        for row in self.rows.values():
            if row.status in UNFINISHED:
                if isinstance(event, RunFailed):
                    row.set_status("failed", error=f"the reply failed: {event.error}")
                else:
                    row.set_status("cancelled")
        self._report()

    def stop_note(self) -> str | None:
        """What Esc stopped, in words, when it stopped a tool step (None when no tool was involved)."""
        statuses = {row.status for row in self.rows.values()}
        if "running" in statuses:
            return STOPPED_RUNNING
        if statuses & {"waiting", "streaming"}:
            return STOPPED_WAITING
        return None

    # -- asking ---------------------------------------------------------------------------------------------

    def _ask_next(self) -> None:
        if self._question is not None or not self._asking:
            return
        call, agent = self._asking.popleft()
        # A conversation streaming off screen asks too; the dialog then names it.
        where = "" if self.view.display else (self.view.data.title or "another conversation")
        question = Question(call, agent, len(self._asking), where)
        self._question = question
        self.view.post_message(AskApproval(self, question, lambda decision: self._answered(question, decision)))

    def asking(self, question: Question) -> bool:
        """Whether ``question`` is still the one to ask (not dropped because the run ended)."""
        return question is self._question

    def showing(self, question: Question, dialog: Dialog) -> None:
        """The screen shows ``dialog`` for ``question``: closed by the steps if the run ends first."""
        if question is self._question:
            self._dialog = dialog

    def _answered(self, question: Question, decision: Decision | None) -> None:
        if question is not self._question:
            return  # closed because the run ended: nothing to answer
        call = question.call
        self._question = None
        self._dialog = None
        if decision is None:
            # Esc: the call is not run, and the reply stops (the run keeps everything so far).
            self._asking.clear()
            self.view.stop_reply()
            return
        try:
            self.run.decide(call.id, decision)
        except KeyError:
            return  # the run stopped waiting meanwhile (stopped, or the app closing): nothing runs

        if decision != "deny" and (row := self.rows.get(call.id)) is not None:
            # The run sends no event when an approved call starts; from the user's yes, it is the run's to run.
            row.set_status("running")
            self._report()
        self._ask_next()

    def _close_dialog(self) -> None:
        dialog, self._dialog, self._question = self._dialog, None, None
        # Only the top screen can be dismissed; one under another dialog stays, and its answer is ignored.
        if dialog is not None and dialog.is_attached and dialog.is_current:
            dialog.dismiss(None)

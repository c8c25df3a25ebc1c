"""The question asked before a tool runs: allow once, allow always for this agent, or deny.

Everything the dialog shows (the tool, its server, the agent, the arguments) came from a model, an MCP server or an
agent file, so all of it is plain text (:mod:`salon.tui.plain`): a tool named ``[@click=app.quit]`` is shown, not
obeyed. The dialog only answers; the run records the answer (``run.decide``) and the run's approval store, not the
dialog, writes "always" to the user's config.

The choice keys are letters a person may be typing into the prompt box when the dialog opens in the middle of a
reply. So the dialog ignores keys and clicks until it has been on screen for :data:`ARM_AFTER` seconds, as browsers
do with their permission prompts: a word typed before it appeared never allows a tool.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Protocol

from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from salon.events import Decision
from salon.tui.plain import safe_text

if TYPE_CHECKING:
    from textual.app import ComposeResult

ARM_AFTER = 0.6
"""Seconds the dialog is shown before a key or click can answer it."""

STOP_NOTE = "Esc denies it and stops the reply; what arrived so far is kept."


class PendingCall(Protocol):
    """What the dialog reads of a tool call (``salon.events.ToolCall``)."""

    @property
    def id(self) -> str: ...

    @property
    def server(self) -> str: ...

    @property
    def tool(self) -> str: ...

    @property
    def arguments(self) -> str: ...


def pretty_arguments(arguments: str) -> str:
    """The arguments as indented JSON when they are valid JSON, else exactly as the model sent them."""
    try:
        value = json.loads(arguments)
    except ValueError:
        return arguments
    return json.dumps(value, indent=2, ensure_ascii=False)


class ApprovalScreen(ModalScreen["Decision | None"]):
    """Returns the user's decision; None when the user pressed Esc (deny, and stop the reply)."""

    BINDINGS = [
        Binding("o,y", "choose('once')", "Allow once", id="approval-once"),
        Binding("a", "choose('always')", "Allow always", id="approval-always"),
        Binding("d,n", "choose('deny')", "Deny", id="approval-deny"),
        Binding("escape", "stop", "Deny and stop", id="approval-stop"),
    ]

    def __init__(self, call: PendingCall, agent_name: str, *, waiting: int = 0, where: str = "",
                 arm_after: float = ARM_AFTER) -> None:
        super().__init__(classes="approval")
        self.call = call
        self.agent_name = agent_name
        self.waiting = waiting
        """Further calls of the same reply waiting for an answer after this one."""
        self.where = where
        """The conversation asking, when it is not the one on screen."""
        self._arm_after = arm_after
        self.armed = arm_after <= 0
        """Whether keys and clicks answer the dialog yet (see :data:`ARM_AFTER`)."""

    def compose(self) -> ComposeResult:
        call = self.call
        with Vertical(classes="dialog"):
            yield Static(Content("Allow this tool to run?"), classes="dialog-title")
            yield Static(Content.assemble(
                *((("In “", ""), (safe_text(self.where), "bold"), ("”, ", "")) if self.where else ()),
                (safe_text(self.agent_name), "bold"), " wants to call ",
                (safe_text(call.tool), "bold $accent"), " on the MCP server ",
                (safe_text(call.server), "bold $accent"), " with these arguments:",
            ), classes="dialog-body approval-what")
            with VerticalScroll(classes="approval-arguments"):
                shown = pretty_arguments(call.arguments) if call.arguments.strip() else "(no arguments)"
                yield Static(Content(safe_text(shown)), classes="approval-arguments-text")
            with Horizontal(classes="buttons"):
                yield Button("Allow once (o)", variant="primary", id="once", disabled=not self.armed)
                yield Button("Always for this agent (a)", id="always", disabled=not self.armed)
                yield Button("Deny (d)", variant="error", id="deny", disabled=not self.armed)
            more = f" {self.waiting} more call{'s' if self.waiting != 1 else ''} of this reply wait after this one." \
                if self.waiting else ""
            yield Static(Content(STOP_NOTE + more), classes="dialog-note")

    def on_mount(self) -> None:
        if not self.armed:
            self.set_timer(self._arm_after, self._arm, name="approval-arm")
        self.query_one("#deny", Button).focus()

    def _arm(self) -> None:
        self.armed = True
        for button in self.query(Button):
            button.disabled = False
        # Enter on the focused button answers too: it starts on Deny, the answer that runs nothing.
        self.query_one("#deny", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id in ("once", "always", "deny"):
            self.action_choose(event.button.id)  # type: ignore[arg-type]

    def action_choose(self, decision: Decision) -> None:
        if self.armed:
            self.dismiss(decision)

    def action_stop(self) -> None:
        # Not armed-gated: stopping runs nothing, so it is never an accident worth guarding against.
        self.dismiss(None)

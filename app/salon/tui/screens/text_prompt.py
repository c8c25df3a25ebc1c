"""A one-line question (a conversation's new title)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from salon.tui.plain import PlainInput

if TYPE_CHECKING:
    from textual.app import ComposeResult


class TextPrompt(ModalScreen[str | None]):
    """Returns the text entered (stripped, never empty), or None on Esc."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt-cancel")]

    def __init__(self, title: str, value: str = "", placeholder: str = "") -> None:
        super().__init__(classes="text-prompt")
        self.title_text = title
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Content(self.title_text), classes="dialog-title")
            yield PlainInput(self.value, placeholder=self.placeholder, id="answer")
            yield Static(Content("Enter saves · Esc cancels"), classes="dialog-note")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)

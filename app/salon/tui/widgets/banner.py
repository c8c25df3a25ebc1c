"""A notice across the top of the chat: what is wrong (Ollama unreachable) and what the user can do."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from salon.errors import ServerUnreachable
from salon.tui.plain import safe_text


def unreachable_text(host: str) -> str:
    """The error ``salon ask`` prints for an Ollama that does not answer, and what the chat keeps meanwhile."""
    said = str(ServerUnreachable(host))
    return f"{said[:1].upper()}{said[1:]} Your prompt stays in the box below; press Enter to try again."


class Banner(Static):
    """Hidden until :meth:`show_problem`; the app stays usable beneath it."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.display = False

    def show_problem(self, text: str) -> None:
        self.update(Content(safe_text(text)))
        self.display = True

    def clear(self) -> None:
        self.display = False

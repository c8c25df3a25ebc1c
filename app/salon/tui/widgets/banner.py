"""A notice across the top of the chat: what is wrong (Ollama unreachable) and what the user can do."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from salon.tui.plain import safe_text


def unreachable_text(host: str) -> str:
    return (f"Cannot reach Ollama at {host}. Start it with `ollama serve` (or set OLLAMA_HOST / [ollama] host "
            "in config.toml). Your prompt stays in the box below; press Enter to try again.")


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

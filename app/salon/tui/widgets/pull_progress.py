"""The download of a missing model: what Ollama says it is doing, and how far it has got."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import ProgressBar, Static

from salon.tui.plain import safe_text

if TYPE_CHECKING:
    from textual.app import ComposeResult


class PullProgress(Horizontal):
    """Hidden except while a pull runs."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.display = False
        self.model = ""

    def compose(self) -> ComposeResult:
        yield Static(classes="pull-label")
        yield ProgressBar(total=None, show_eta=False, classes="pull-bar")

    def start(self, model: str) -> None:
        self.model = model
        self.display = True
        self.query_one(ProgressBar).update(total=None, progress=0)
        self._label(f"Pulling {model}: starting…")

    def show(self, status: str, completed: int | None, total: int | None) -> None:
        bar = self.query_one(ProgressBar)
        if total:
            bar.update(total=total, progress=completed or 0)
            self._label(f"Pulling {self.model}: {status} · {(completed or 0) / 1e6:,.1f} of {total / 1e6:,.1f} MB")
        else:
            self._label(f"Pulling {self.model}: {status}")

    def _label(self, text: str) -> None:
        self.query_one(".pull-label", Static).update(Content(safe_text(text)))

    def stop(self) -> None:
        self.display = False

"""The live line a reply shows instead of its text when its agent sets ``show_streaming_message = false``."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from salon.tui.records import estimated_out


def progress_text(deltas: int, rate: float | None, elapsed: float) -> str:
    # In the footer's words: the provider's counts come only with the final line, so until then the tokens are
    # Salon's estimate (a streamed piece is about one token) and say so.
    rate_part = f"{rate:.1f} tok/s" if rate else "no rate yet"
    return f"Writing… {estimated_out(deltas)} · {rate_part} · {elapsed:.1f} s"


class ProgressLine(Static):
    """Tokens so far (estimated), tok/s and time; updated by its live message at the frame rate."""

    def __init__(self, *, classes: str | None = None) -> None:
        super().__init__(Content(progress_text(0, None, 0.0)), classes=classes)

    def show(self, deltas: int, rate: float | None, elapsed: float) -> None:
        self.update(Content(progress_text(deltas, rate, elapsed)))

"""The live line a reply shows instead of its text when its agent sets ``show_streaming_message = false``."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


def progress_text(deltas: int, chars: int, rate: float | None, elapsed: float) -> str:
    # Ollama sends about one token per delta; the character count gives a second, model-independent estimate.
    rate_text = f"{rate:.1f} tok/s" if rate else "no rate yet"
    return (f"Writing… {deltas:,} deltas received · ≈ {max(round(chars / 4), deltas if chars else 0):,} tokens · "
            f"{rate_text} · {elapsed:.1f} s")


class ProgressLine(Static):
    """Deltas received, tokens, tok/s and time so far; updated by its live message at the frame rate."""

    def __init__(self, *, classes: str | None = None) -> None:
        super().__init__(Content(progress_text(0, 0, None, 0.0)), classes=classes)

    def show(self, deltas: int, chars: int, rate: float | None, elapsed: float) -> None:
        self.update(Content(progress_text(deltas, chars, rate, elapsed)))

"""The status line: who answers (agent, model), whether Ollama answers, and the live tok/s of a reply."""

from __future__ import annotations

from typing import Literal

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from salon.tui.plain import safe_text
from salon.tui.records import model_label

Connection = Literal["unknown", "checking", "up", "down", "not used"]

_CONNECTION_STYLE = {"up": "$success", "down": "$error", "checking": "$warning", "unknown": "$text-muted",
                     "not used": "$text-muted"}
_CONNECTION_WORD = {"up": "connected", "down": "unreachable", "checking": "connecting…", "unknown": "not checked yet",
                    "not used": "not used"}


class StatusLine(Widget):
    """One line; every field is reactive, so changing one repaints only this line."""

    agent = reactive("")
    model = reactive("")
    host = reactive("")
    connection: reactive[Connection] = reactive("unknown")
    rate: reactive[float | None] = reactive(None)
    streaming = reactive(0)
    stored = reactive("")
    tool = reactive("")
    """The tool call of the reply on screen that is under way: streaming, waiting for the user, running."""

    def render(self) -> Content:
        parts: list[str | tuple[str, str] | Content] = [
            ("● ", _CONNECTION_STYLE[self.connection]),
            (safe_text(self.agent), "bold"), " · ", safe_text(model_label(self.model)),
            "  │  Ollama ", safe_text(self.host), " ",
            (_CONNECTION_WORD[self.connection], _CONNECTION_STYLE[self.connection]),
        ]
        if self.streaming:
            label = "replying" if self.streaming == 1 else f"{self.streaming} replies"
            rate = f" · {self.rate:.0f} tok/s" if self.rate else ""
            parts += ["  │  ", (label + rate, "$accent")]
        if self.tool:
            parts += ["  │  ", ("tool ", "$warning"), (safe_text(self.tool), "$warning")]
        if self.stored:
            parts += ["  │  ", (safe_text(self.stored), "$text-muted")]
        return Content.assemble(*parts)

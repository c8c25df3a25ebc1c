"""One tool call in a reply: a compact row (server · tool · arguments as they arrive), then its result, collapsed.

The row sits inside its message, between the text the model wrote before the call and the text after it. Everything
in it came from a model or an MCP server, so it is drawn as plain text (:mod:`salon.tui.plain`). Arguments stream in
pieces; the row gathers them and redraws at most a dozen times a second, so a call streamed beside a reply costs the
reply nothing per token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from salon.tui.plain import safe_text

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.events import Click
    from textual.timer import Timer

    from salon.events import ToolCall
    from salon.messages import ToolCallPart

CallStatus = Literal["streaming", "waiting", "running", "completed", "failed", "denied", "cancelled"]

REDRAW_EVERY = 1 / 12
"""Seconds between redraws of a row while its arguments stream."""

HEAD_ARGUMENTS = 400
"""Characters of the arguments kept for the one-line row (the line is cut with an ellipsis at the pane's width)."""

OUTPUT_SHOWN = 20_000
"""Characters of a result shown when it is expanded; the rest is named, not drawn (a tool may return megabytes)."""

STATUS_TEXT: Mapping[str, str] = {
    "streaming": "… receiving the arguments",
    "waiting": "? waiting for your approval",
    "running": "⟳ running…",
    "completed": "✓ result",
    "failed": "✗ failed",
    "denied": "⊘ denied: the tool was not run",
    "cancelled": "■ cancelled: the reply was stopped",
}


def compact_arguments(arguments: str) -> str:
    """The arguments on one line: compact JSON when they parse (they may still be arriving), else as sent."""
    try:
        text = json.dumps(json.loads(arguments), ensure_ascii=False, separators=(", ", ": "))
    except ValueError:
        text = arguments
    text = " ".join(text[:HEAD_ARGUMENTS * 2].split())
    return text[:HEAD_ARGUMENTS] + ("…" if len(text) > HEAD_ARGUMENTS else "")


def shown_output(output: str) -> str:
    """A result as it is drawn expanded: indented when it is JSON, and cut at :data:`OUTPUT_SHOWN` characters."""
    text = output[:OUTPUT_SHOWN]
    if len(output) <= OUTPUT_SHOWN:
        try:
            value = json.loads(output)
        except ValueError:
            pass
        else:
            if isinstance(value, dict | list):
                text = json.dumps(value, indent=2, ensure_ascii=False)
    more = len(output) - OUTPUT_SHOWN
    return text + (f"\n… {more:,} more characters not shown" if more > 0 else "")


def first_line(text: str, limit: int = 200) -> str:
    line = " ".join(text[:limit * 2].split())
    return line[:limit] + ("…" if len(line) > limit else "")


class ToolCallRow(Vertical):
    """A tool call as it streams, waits, runs and ends; click (or ``t`` on the message) shows its whole result."""

    def __init__(self, call_id: str, server: str, tool: str, arguments: str = "", *,
                 status: CallStatus = "streaming", output: str | None = None, error: str | None = None) -> None:
        super().__init__(classes=f"tool-call -{status}")
        self.call_id = call_id
        self.server = server
        self.tool = tool
        self._arguments = [arguments] if arguments else []
        self.status: CallStatus = status
        self.output = output
        self.error = error
        self.expanded = False
        self._redraw: Timer | None = None

    @classmethod
    def of(cls, call: ToolCall | ToolCallPart) -> ToolCallRow:
        return cls(call.id, call.server, call.tool, call.arguments, status=call.status, output=call.output,
                   error=call.error)

    @property
    def arguments(self) -> str:
        joined = "".join(self._arguments)
        self._arguments = [joined] if joined else []
        return joined

    @property
    def expandable(self) -> bool:
        return bool(self.output or self.error)

    def compose(self) -> ComposeResult:
        yield Static(self._head(), classes="tool-head")
        yield Static(self._result(), classes="tool-result")

    # -- what the chat view calls -------------------------------------------------------------------------

    def add_arguments(self, piece: str, server: str = "", tool: str = "") -> None:
        """A piece of the arguments arrived; drawn with the next redraw, not now."""
        if server:
            self.server = server
        if tool:
            self.tool = tool
        if piece:
            self._arguments.append(piece)
        if self._redraw is None and self.is_mounted:
            self._redraw = self.set_timer(REDRAW_EVERY, self._draw, name="tool-call-arguments")

    def update_call(self, call: ToolCall | ToolCallPart) -> None:
        """The call moved on (waiting, running, ended): shown at once."""
        self.server, self.tool = call.server or self.server, call.tool or self.tool
        if call.arguments:
            self._arguments = [call.arguments]
        self.set_status(call.status, output=call.output, error=call.error)

    def set_status(self, status: CallStatus, *, output: str | None = None, error: str | None = None) -> None:
        self.remove_class(f"-{self.status}")
        self.status = status
        self.add_class(f"-{status}")
        self.output = output if output is not None else self.output
        self.error = error if error is not None else self.error
        self._draw()

    def toggle(self) -> None:
        """Show the whole result, or only its first line again."""
        if self.expandable:
            self.expanded = not self.expanded
            self.set_class(self.expanded, "-expanded")
            self._draw()

    def on_click(self, event: Click) -> None:
        event.stop()
        self.toggle()

    # -- drawing ------------------------------------------------------------------------------------------

    def _draw(self) -> None:
        self._redraw = None
        if not self.is_mounted:
            return
        self.query_one(".tool-head", Static).update(self._head())
        self.query_one(".tool-result", Static).update(self._result())

    def _head(self) -> Content:
        arguments = compact_arguments(self.arguments)
        return Content.assemble(
            ("⚙ ", "$accent"), (safe_text(self.server) or "?", "bold"), " · ", (safe_text(self.tool) or "?", "bold"),
            *((("  ", ""), (safe_text(arguments), "$text-muted")) if arguments else ()),
        )

    def _result(self) -> Content:
        status = STATUS_TEXT.get(self.status, str(self.status))
        if self.status == "failed" and self.error:
            status = f"{status}: {first_line(self.error)}" if not self.expanded else status
        if not self.expandable:
            return Content(safe_text(status))
        if not self.expanded:
            preview = first_line(self.output or "") if self.status != "failed" else ""
            return Content.assemble(
                ("▸ ", "$accent"), safe_text(status), *(((": ", ""), (safe_text(preview), "")) if preview else ()),
            )
        body = shown_output(self.output) if self.output else ""
        error = self.error if self.error else ""
        return Content.assemble(
            ("▾ ", "$accent"), safe_text(status), "\n",
            *(((safe_text(error), ""), ("\n", "")) if error else ()),
            safe_text(body),
        )

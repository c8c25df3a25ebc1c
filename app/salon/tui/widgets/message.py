"""The messages of the chat log: the user's and the light finished reply (the live one is in ``live_message``).

A finished reply is one widget holding its Rich-rendered Markdown (see ``rendering``); a Textual ``Markdown`` tree
per message cost seconds to mount in a long history. A reply that called tools shows its text runs and its tool
calls in order, each call a compact row with its result collapsed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from salon.messages import Message, ToolCallPart
from salon.tui.pacing import FASTEST
from salon.tui.plain import plain, safe_text
from salon.tui.records import footer_text
from salon.tui.rendering import ChunkedMarkdown, Palette, code_blocks
from salon.tui.widgets.markdown_body import MarkdownBody
from salon.tui.widgets.tool_call import ToolCallRow

if TYPE_CHECKING:
    from textual.app import ComposeResult

Clock = Callable[[], float]

FRAME_INTERVAL = FASTEST
"""Seconds between writes of a live reply to the screen at most: steady, whatever the token rate."""

THINKING_TAIL_LINES = 6
"""How much of the thinking a live reply shows: its last lines, so the cost per frame stays flat."""


class MessageBox(Vertical):
    """Base of every message in the chat log; ``record`` is None only while a reply streams."""

    record: Message | None = None

    @property
    def message_id(self) -> str | None:
        return self.record.id if self.record else None

    def copy_text(self) -> str:
        return self.record.text if self.record else ""

    def code_blocks(self) -> list[str]:
        return code_blocks(self.copy_text())


class UserMessage(MessageBox):
    """What the user sent, shown as typed: never parsed as Markdown or markup."""

    def __init__(self, record: Message, *, queued: bool = False) -> None:
        super().__init__(classes="message user" + (" -queued" if queued else ""))
        self.record = record
        self.border_title = "You" + (" · queued" if queued else "")

    def compose(self) -> ComposeResult:
        yield Static(Content(safe_text(self.record.text) if self.record else ""), classes="body")

    def mark_sent(self) -> None:
        self.remove_class("-queued")
        self.border_title = "You"


class FinalMessage(MessageBox):
    """A finished, interrupted or failed reply: one Static holding its Markdown render, plus a footer.

    ``settled`` is what the live message already rendered while it streamed: reused as it is, so only the text that
    arrived last is rendered at the swap. ``chunks`` is how many pieces streamed, for a reply that just ended
    without the provider's token counts (the footer's estimate).
    """

    def __init__(self, record: Message, palette: Palette, *, show_thinking: bool = False,
                 settled: ChunkedMarkdown | None = None, chunks: int | None = None) -> None:
        super().__init__(classes=f"message assistant -{record.status}")
        self.record = record
        self._show_thinking = show_thinking
        self._layout: list[ChunkedMarkdown | ToolCallPart] = []
        """With tool calls: the text runs and the calls in order (the text is not one body then)."""
        if record.tool_calls:
            for part in record.parts:
                if isinstance(part, ToolCallPart):
                    self._layout.append(part)
                elif part.text:
                    self._layout.append(self._render_of(part.text, palette, settled if not self._layout else None))
        texts = [item for item in self._layout if isinstance(item, ChunkedMarkdown)]
        self._markdown = texts[0] if texts else self._render_of(record.text, palette, settled)
        self.border_title = plain(record.agent_name or record.agent_id or "Assistant")
        self.border_subtitle = plain(self._subtitle(record, chunks))

    @staticmethod
    def _render_of(text: str, palette: Palette, settled: ChunkedMarkdown | None) -> ChunkedMarkdown:
        text = safe_text(text)
        if settled is not None and settled.parts and text.startswith(settled.source):
            markdown = settled.extended(text[len(settled.source):])
        else:
            markdown = ChunkedMarkdown.of(text, palette)
        markdown.palette = palette
        return markdown

    @property
    def markdowns(self) -> list[ChunkedMarkdown]:
        """Every body's Markdown: one, or one per text run between tool calls."""
        texts = [item for item in self._layout if isinstance(item, ChunkedMarkdown)]
        return texts or [self._markdown]

    @property
    def markdown(self) -> ChunkedMarkdown:
        """What the body draws: the reply's Markdown, rendered in the current palette."""
        return self._markdown

    @staticmethod
    def _subtitle(record: Message, chunks: int | None) -> str:
        status = {"interrupted": "interrupted · ", "failed": "failed · ", "streaming": "cut off · "}
        return status.get(record.status, "") + footer_text(record, chunks)

    def compose(self) -> ComposeResult:
        record = self.record
        assert record is not None
        if record.thinking:
            from textual.widgets import Collapsible

            with Collapsible(title="Thinking", collapsed=not self._show_thinking, classes="thinking"):
                yield Static(Content(safe_text(record.thinking)), classes="thinking-text")
        if self._layout:
            for item in self._layout:
                if isinstance(item, ToolCallPart):
                    yield ToolCallRow.of(item)
                else:
                    yield MarkdownBody(item, classes="body")
        elif record.text:
            yield MarkdownBody(self._markdown, classes="body")
        else:
            yield Static(Content("(no text)"), classes="body -empty")
        if record.status == "failed":
            why = safe_text(record.error or "the provider failed")
            yield Static(Content(f"✗ {why}\nctrl+r retries this reply."), classes="problem")
        elif record.status == "interrupted":
            yield Static(Content("■ stopped; the text above is what arrived. ctrl+r writes it again."),
                         classes="problem")

    async def add_tool_row(self, row: ToolCallRow) -> None:
        """A tool call of this reply, which started when its text was complete: shown after the text."""
        # A completion that opened with a call has no text: the row, not "(no text)", is what it said.
        await self.query(".-empty").remove()
        problem = self.query(".problem")
        await self.mount(row, before=problem.first() if problem else None)

    def set_palette(self, palette: Palette) -> None:
        """Re-render in a new theme's colours."""
        for markdown in self.markdowns:
            markdown.palette = palette
        for body in self.query(MarkdownBody):
            body.changed()

"""The reply while it streams: text (or a progress line) drawn at a steady frame rate.

Deltas are only collected as they arrive (no UI work per token); a timer draws what has gathered a dozen times a
second. The live reply is drawn like a finished one, by Rich into a :class:`MarkdownBody`: its finished blocks are
rendered once and kept (``settled``), and only the last, still growing block is rendered again at each frame. When
the message completes it is replaced by :class:`~salon.tui.widgets.message.FinalMessage`, which reuses the settled
renders.

A tool call ends the message that holds the text before it (the run completes it when the call starts streaming), so
the call's row goes in the final message, after that text (see ``tool_steps``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from salon.reply import MIN_RATE_SECONDS
from salon.tui.pacing import FramePacer
from salon.tui.plain import plain, safe_text
from salon.tui.records import model_label
from salon.tui.rendering import ChunkedMarkdown, LiveMarkdown, Palette
from salon.tui.settling import LiveTail
from salon.tui.widgets.markdown_body import MarkdownBody
from salon.tui.widgets.message import FRAME_INTERVAL, THINKING_TAIL_LINES, Clock, MessageBox
from salon.tui.widgets.progress import ProgressLine

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.timer import Timer

    from salon.events import MessageCreated


class LiveMessage(MessageBox):
    """A reply while it streams: Markdown (or a progress line) drawn at a steady frame rate.

    Finished top-level blocks move out of the live tail into cached Rich renders (``settled``), so the text rendered
    again at each frame, and the cost of the frame, stays small however long the reply grows.
    """

    class Progress(Message):
        """Posted each frame while text arrives: the live figures for the status line."""

        def __init__(self, live: LiveMessage, rate: float | None) -> None:
            super().__init__()
            self.live = live
            self.rate = rate

    def __init__(self, created: MessageCreated, clock: Clock, palette: Palette, *,
                 frame_interval: float = FRAME_INTERVAL) -> None:
        super().__init__(classes="message assistant -streaming")
        self.created = created
        self.show_text = created.show_streaming_message
        self.settled = ChunkedMarkdown(palette)
        self._clock = clock
        self._interval = frame_interval
        self._pacer = FramePacer(fastest=frame_interval)
        self._started = clock()
        self._first_at: float | None = None
        self._pending: list[str] = []
        self._thinking: list[str] = []
        self._thinking_shown = 0
        self._text_parts: list[str] = []
        self._tail = LiveTail()
        self._live = LiveMarkdown(self.settled)
        """The settled blocks and the tail after them (one chunk, replaced at each frame), drawn as one body."""
        self._live_body: MarkdownBody | None = None
        self._timer: Timer | None = None
        self._finished = False
        self.deltas = 0
        self.chars = 0
        self.frames = 0
        """How many times text was written to the screen (far fewer than deltas: that is the point)."""
        self.answer_started = False
        self.border_title = plain(created.agent_name)
        self.border_subtitle = plain(f"{model_label(created.model)} · writing…")

    # -- what the worker calls, once per delta: keep it to list appends ------------------------------------

    def feed(self, text: str, thinking: str) -> None:
        self.deltas += 1
        if self._first_at is None:
            self._first_at = self._clock()
        if text:
            self._pending.append(text)
            self.chars += len(text)
        if thinking:
            self._thinking.append(thinking)

    @property
    def text(self) -> str:
        """Everything received so far (written to the screen or still waiting for the next frame)."""
        return "".join(self._text_parts) + "".join(self._pending)

    @property
    def written(self) -> str:
        """The text already on screen (the rest waits for the next frame)."""
        return "".join(self._text_parts)

    def rate(self) -> float | None:
        """Tokens (streamed pieces) per second since the first one; None until that is long enough to mean much."""
        if self._first_at is None or self.deltas < 2:
            return None
        span = self._clock() - self._first_at
        return self.deltas / span if span >= MIN_RATE_SECONDS else None

    def copy_text(self) -> str:
        return self.text

    # -- the screen side -----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        from textual.widgets import Collapsible

        with Collapsible(title="Thinking…", collapsed=False, classes="thinking") as thinking:
            thinking.display = False
            yield Static(classes="thinking-text")
        if self.show_text:
            # One body for settled blocks and tail alike, laid out as the final message's: no jump at the swap.
            self._live_body = MarkdownBody(self._live, classes="body")
            yield self._live_body
        else:
            yield ProgressLine(classes="body")

    def on_mount(self) -> None:
        self._timer = self.set_interval(self._interval, self._tick, name="live-reply")

    async def _tick(self) -> None:
        if self._finished or not self._pacer.due():
            return
        # The progress line moves with the clock, so it is drawn even when no text came.
        if self._pending or self._thinking_changed or not self.show_text:
            self._pacer.drew()
            self.frames += 1
            await self._flush()

    @property
    def _thinking_changed(self) -> bool:
        return bool(self._thinking) and len(self._thinking) != self._thinking_shown

    async def _flush(self) -> None:
        if self._finished:
            return
        if self._thinking and len(self._thinking) != self._thinking_shown:
            self._show_thinking()
        if self._pending:
            fragment = safe_text("".join(self._pending))
            self._text_parts.extend(self._pending)
            self._pending.clear()
            if not self.answer_started:
                self.answer_started = True
                self._collapse_thinking()
            if self.show_text:
                await self._write(fragment)
        if not self.show_text:
            elapsed = self._clock() - self._started
            self.query_one(ProgressLine).show(self.deltas, self.rate(), elapsed)
        if self.deltas:
            self.post_message(self.Progress(self, self.rate()))

    async def _write(self, fragment: str) -> None:
        settle = self._tail.add(fragment)
        if settle is not None:
            await self._settle(settle.done, settle.rest, open_paragraph=settle.open_paragraph)
            return
        self._show_tail()

    def _show_tail(self) -> None:
        self._live.replace_tail(self._tail.text)
        if self._live_body is not None:
            self._live_body.changed()

    async def _settle(self, done: str, rest: str, *, open_paragraph: bool) -> None:
        """Add finished blocks to the settled render; the tail goes on with what follows them."""
        before = len(self.settled.parts)
        self.settled.extend(done, open_paragraph=open_paragraph)
        # Rendered here, a chunk at a time with a pause between, rather than in one go inside the next layout.
        width = self.content_size.width
        if width > 0:
            for part in self.settled.parts[before:]:
                part.lines(self.app.console, width)
                await asyncio.sleep(0)
        if self._finished:
            return
        self._tail.restart(rest)
        self._show_tail()

    def set_palette(self, palette: Palette) -> None:
        self._live.palette = palette
        if self.show_text:
            for body in self.query(MarkdownBody):
                body.changed()

    def _show_thinking(self) -> None:
        from textual.widgets import Collapsible

        self._thinking_shown = len(self._thinking)
        thinking = self.query_one(".thinking", Collapsible)
        thinking.display = True
        text = "".join(self._thinking)
        tail = text[-4000:].splitlines()[-THINKING_TAIL_LINES:]
        self.query_one(".thinking-text", Static).update(Content(safe_text("\n".join(tail))))

    def _collapse_thinking(self) -> None:
        from textual.widgets import Collapsible

        thinking = self.query_one(".thinking", Collapsible)
        if thinking.display:
            thinking.collapsed = True
            thinking.title = "Thinking"

    async def finish(self) -> None:
        """Stop writing: the final message that replaces this one shows the whole text, so nothing is flushed."""
        if self._finished:
            return
        self._finished = True
        if self._timer is not None:
            self._timer.stop()
        self._text_parts.extend(self._pending)
        self._pending.clear()

    def on_unmount(self) -> None:
        # Removed mid-stream (its conversation closed): the timer must not outlive the widget.
        self._finished = True
        if self._timer is not None:
            self._timer.stop()

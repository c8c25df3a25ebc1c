"""The scrolling log of one conversation: only a window of its messages is mounted, paged in as the user scrolls.

A conversation of 10,000 messages mounts a few dozen widgets; scrolling near the top mounts the page before, and
the far end of the window is let go, so memory and layout cost stay flat however long the conversation is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message

from salon.messages import Message as StoredMessage
from salon.tui.widgets.message import MessageBox, UserMessage
from salon.tui.widgets.welcome import Welcome

if TYPE_CHECKING:
    from textual.app import ComposeResult

PAGE = 20
"""Messages mounted per page: a screenful or two of typical messages."""

MAX_MOUNTED = 3 * PAGE
"""The most record widgets kept mounted at once; the far end of the window is unmounted beyond it."""

EDGE = 2
"""Lines from the top or bottom at which the next page is mounted."""


class MessageSource(Protocol):
    """Where the log reads its messages: the conversation's store (in memory when none could open)."""

    def count(self) -> int: ...

    def page(self, offset: int, limit: int) -> Sequence[StoredMessage]: ...


class ChatLog(VerticalScroll, can_focus=True):
    """Messages oldest first; follows the bottom while the user is there (Textual's scroll anchor)."""

    BINDINGS = [
        Binding("up,k", "select(-1)", "Previous message", show=False, id="message-previous"),
        Binding("down,j", "select(1)", "Next message", show=False, id="message-next"),
        Binding("c", "copy_message", "Copy message", id="copy-message"),
        Binding("y", "copy_code", "Copy code block", id="copy-code-block"),
        Binding("r", "regenerate", "Regenerate", id="message-regenerate"),
        Binding("e", "edit", "Edit prompt", id="message-edit"),
        Binding("t", "toggle_tools", "Tool results", id="message-tool-results"),
        Binding("end,G", "latest", "Latest", show=False, id="messages-latest"),
        Binding("home,g", "oldest", "Oldest", show=False, id="messages-oldest"),
    ]

    class Regenerate(Message):
        """The user asked, from the log, for the last reply again."""

    class Edit(Message):
        """The user asked, from the log, to edit the last prompt."""

    def __init__(self, source: MessageSource, factory: Callable[[StoredMessage], MessageBox], welcome: Welcome,
                 *, follow: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.source = source
        self._factory = factory
        self._welcome = welcome
        self._follow = follow
        self._start = 0
        self._end = 0
        self._paging = False
        self._selected: MessageBox | None = None
        self._code_cursor: tuple[str | None, int] = (None, -1)
        self.keep_tail = False
        """While a reply streams into the log, the window never lets go of its end."""

    def compose(self) -> ComposeResult:
        yield self._welcome

    # -- the window ----------------------------------------------------------------------------------------

    @property
    def window(self) -> tuple[int, int]:
        """The [start, end) indices of the source's messages that are mounted."""
        return self._start, self._end

    def records(self) -> list[MessageBox]:
        """The mounted messages that stand for stored records, in order (live and queued ones excluded)."""
        return [child for child in self.children if isinstance(child, MessageBox) and child.record is not None
                and not child.has_class("-queued")]

    def messages(self) -> list[MessageBox]:
        return [child for child in self.children if isinstance(child, MessageBox)]

    async def show_latest(self) -> None:
        """Mount the last page (and nothing else) and stick to the bottom."""
        total = self.source.count()
        start = max(0, total - PAGE)
        records = list(self.source.page(start, total - start)) if total else []
        with self.app.batch_update():
            await self.remove_children(MessageBox)
            self._selected = None
            self._start, self._end = start, total
            self._welcome.display = not records
            if records:
                await self.mount_all([self._factory(r) for r in records])
        self.stick_to_bottom()
        # Short messages may not fill the view, leaving nothing to scroll: then older pages come in at once.
        self.call_after_refresh(self._check_edges)

    async def show_around(self, index: int, message_id: str) -> None:
        """Mount a page around the message at (about) ``index`` and select it; the latest page if it is gone."""
        total = self.source.count()
        start = max(0, min(index - PAGE // 2, total - PAGE))
        records = list(self.source.page(start, PAGE))
        if not any(r.id == message_id for r in records):
            await self.show_latest()
        else:
            with self.app.batch_update():
                await self.remove_children(MessageBox)
                self._selected = None
                self._start, self._end = start, start + len(records)
                self._welcome.display = False
                await self.mount_all([self._factory(r) for r in records])
        target = next((m for m in self.records() if m.message_id == message_id), None)
        if target is not None:
            self._select(target)
            self.focus()

    def stick_to_bottom(self) -> None:
        if self._follow:
            self.anchor()
        else:
            self.scroll_end(animate=False, immediate=False)

    async def ensure_tail(self) -> None:
        """Before something new is added at the end, make sure the window reaches the end."""
        if self._end < self.source.count():
            await self.show_latest()

    async def append(self, widget: MessageBox, *, record: bool = True) -> None:
        """Mount a new message at the end; ``record`` says it is (now) one of the source's messages."""
        self._welcome.display = False
        queued = [c for c in self.children if c.has_class("-queued") and c is not widget]
        # A queued prompt stays last: the reply (or the next step of it) it waits for goes above it.
        await self.mount(widget, before=queued[0] if queued else None)
        if record:
            self._end += 1
        self._trim_front()

    def adopt(self, widget: UserMessage, record: StoredMessage) -> None:
        """A queued prompt was sent: its widget now stands for the stored message."""
        widget.record = record
        widget.mark_sent()
        self._end += 1

    async def replace(self, old: MessageBox, new: MessageBox) -> None:
        """Put ``new`` where ``old`` is, in one repaint (the final swap of a live reply)."""
        with self.app.batch_update():
            await self.mount(new, after=old)
            await old.remove()
        if self._selected is old:
            self._select(new)
        self._end += 1
        self._trim_front()

    async def drop(self, widgets: Sequence[MessageBox], *, records: int) -> None:
        """Unmount messages that were deleted from the source."""
        for widget in widgets:
            if widget is self._selected:
                self._selected = None
        await self.remove_children(list(widgets))
        self._end -= records
        self._welcome.display = not self.messages()

    def _trim_front(self) -> None:
        excess = len(self.records()) - MAX_MOUNTED
        if excess > 0 and ((self.is_anchored and self.scroll_y >= self.max_scroll_y - EDGE) or self.keep_tail):
            # At the bottom the user cannot see the oldest mounted messages: let them go.
            gone = self.records()[:excess]
            self._start += len(gone)
            self.remove_children(gone)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._check_edges()

    def _check_edges(self) -> None:
        """Near the top, mount the page before; near the bottom, the page after (if the window is not there)."""
        if self._paging or not self.is_mounted:
            return
        if self.scroll_y <= EDGE and self._start > 0:
            self._paging = True
            self.call_later(self._page_older)
        elif (self.scroll_y >= self.max_scroll_y - EDGE and not self.keep_tail
              and self._end < self.source.count()):
            self._paging = True
            self.call_later(self._page_newer)

    async def _page_older(self) -> None:
        try:
            mounted = self.records()
            if not mounted or self._start == 0:
                return
            start = max(0, self._start - PAGE)
            records = self.source.page(start, self._start - start)
            first = mounted[0]
            before = first.virtual_region.y
            await self.mount_all([self._factory(r) for r in records], before=first)
            self._start = start
            excess = len(self.records()) - MAX_MOUNTED
            if excess > 0 and not self.keep_tail:
                gone = self.records()[-excess:]
                self._end -= len(gone)
                await self.remove_children(gone)
            self.call_after_refresh(self._keep_in_place, first, before)
        finally:
            self.call_after_refresh(self._done_paging)

    async def _page_newer(self) -> None:
        try:
            mounted = self.records()
            total = self.source.count()
            if not mounted or self._end >= total:
                return
            end = min(total, self._end + PAGE)
            records = self.source.page(self._end, end - self._end)
            await self.mount_all([self._factory(r) for r in records], after=mounted[-1])
            self._end = end
            excess = len(self.records()) - MAX_MOUNTED
            if excess > 0:
                gone = self.records()[:excess]
                anchor = self.records()[excess]
                before = anchor.virtual_region.y
                self._start += len(gone)
                await self.remove_children(gone)
                self.call_after_refresh(self._keep_in_place, anchor, before)
        finally:
            self.call_after_refresh(self._done_paging)

    def _keep_in_place(self, widget: MessageBox, was_at: int) -> None:
        # Mounting above (or unmounting above) moves everything; scroll by as much so the view does not jump.
        if widget.is_attached:
            moved = widget.virtual_region.y - was_at
            if moved:
                self.scroll_to(y=self.scroll_y + moved, animate=False, immediate=True, release_anchor=False)

    def _done_paging(self) -> None:
        self._paging = False
        # The user may have reached an edge while this page was mounting.
        self._check_edges()

    # -- selection and the actions on a message --------------------------------------------------------------

    @property
    def selected(self) -> MessageBox | None:
        return self._selected if self._selected is not None and self._selected.is_attached else None

    def _select(self, widget: MessageBox | None) -> None:
        if self._selected is not None:
            self._selected.remove_class("-selected")
        self._selected = widget
        if widget is not None:
            widget.add_class("-selected")
            # After the next refresh, when a message mounted just now has its place.
            self.call_after_refresh(self._show_selected, widget)

    def _show_selected(self, widget: MessageBox, tries: int = 5) -> None:
        if not widget.is_attached:
            return
        if not self.size or not widget.size:
            # Not laid out yet (a conversation opened just now): try again after the next frame.
            if tries:
                self.call_after_refresh(self._show_selected, widget, tries - 1)
            return
        self.scroll_to_widget(widget, animate=False, top=widget.outer_size.height > self.size.height)

    def action_select(self, step: int) -> None:
        messages = self.messages()
        if not messages:
            return
        # With nothing selected, the last reply is the message the keys act on: moving starts from there.
        current = self.selected or self._target()
        if current is None or current not in messages:
            index = len(messages) - 1 if step < 0 else 0
        else:
            index = messages.index(current) + step
        if index < 0 and self._start > 0 and not self._paging:
            self._paging = True
            self.call_later(self._page_older)
            return
        self._select(messages[max(0, min(index, len(messages) - 1))])

    def _target(self) -> MessageBox | None:
        """The selected message, or the last reply when none is selected."""
        if self.selected is not None:
            return self.selected
        replies = [m for m in self.messages() if not isinstance(m, UserMessage)]
        return replies[-1] if replies else None

    def action_copy_message(self) -> None:
        target = self._target()
        if target is None or not target.copy_text():
            self.notify("Nothing to copy yet.", severity="warning")
            return
        self.app.copy_to_clipboard(target.copy_text())
        self.notify(f"Copied the message ({len(target.copy_text()):,} characters).")

    def action_copy_code(self) -> None:
        target = self._target()
        blocks = target.code_blocks() if target is not None else []
        if not blocks or target is None:
            self.notify("No code block in this message.", severity="warning")
            return
        # Pressed again on the same message, it moves on to the next block.
        last_id, last_index = self._code_cursor
        index = (last_index + 1) % len(blocks) if last_id == id(target) else 0
        self._code_cursor = (id(target), index)  # type: ignore[assignment]
        self.app.copy_to_clipboard(blocks[index])
        where = f" {index + 1} of {len(blocks)}" if len(blocks) > 1 else ""
        self.notify(f"Copied code block{where}.")

    def action_toggle_tools(self) -> None:
        """Expand (or collapse again) every tool result of the selected message, or of the last reply."""
        from salon.tui.widgets.tool_call import ToolCallRow

        target = self._target()
        rows = [row for row in target.query(ToolCallRow) if row.expandable] if target is not None else []
        if not rows:
            self.notify("No tool result in this message.", severity="warning")
            return
        expand = not all(row.expanded for row in rows)
        for row in rows:
            if row.expanded != expand:
                row.toggle()

    def action_regenerate(self) -> None:
        self.post_message(self.Regenerate())

    def action_edit(self) -> None:
        self.post_message(self.Edit())

    async def action_latest(self) -> None:
        self._select(None)
        if self._end < self.source.count():
            await self.show_latest()
        else:
            self.stick_to_bottom()

    async def action_oldest(self) -> None:
        """The conversation's first message, however far back: its page is mounted and shown at the top."""
        self._select(None)
        if self._start > 0 and not self.keep_tail:
            # Not while a reply streams into the end: then the mounted window pages back as the top is reached.
            records = list(self.source.page(0, PAGE))
            with self.app.batch_update():
                await self.remove_children(MessageBox)
                self._start, self._end = 0, len(records)
                await self.mount_all([self._factory(r) for r in records])
        self.scroll_home(animate=False, immediate=True)

"""Where the user writes: a multi-line editor in which Enter sends and Shift+Enter or Ctrl+J starts a new line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from salon.tui.plain import editable

if TYPE_CHECKING:
    from salon.tui.widgets.chat_log import ChatLog

PLACEHOLDER = "Write a message · Enter sends · Shift+Enter or Ctrl+J: new line · ↑ edits the last prompt"


class Composer(TextArea):
    """A ``TextArea`` that sends on Enter; what was typed stays until a send is accepted."""

    BINDINGS = [
        Binding("up", "edit_last", "Edit last prompt", show=False, id="composer-edit-last"),
        Binding("tab", "focus_messages", "Messages", id="composer-focus-messages"),
        # The composer has focus right after sending: paging keys move the conversation, not the prompt's cursor.
        Binding("pageup", "scroll_messages('page_up')", "Page up", show=False, id="composer-page-up"),
        Binding("pagedown", "scroll_messages('page_down')", "Page down", show=False, id="composer-page-down"),
        Binding("ctrl+home", "scroll_messages('top')", "Top", show=False, id="composer-top"),
        Binding("ctrl+end", "scroll_messages('bottom')", "Bottom", show=False, id="composer-bottom"),
    ]

    class Submitted(Message):
        """The user pressed Enter with something written."""

        def __init__(self, composer: Composer, text: str) -> None:
            super().__init__()
            self.composer = composer
            self.text = text

        @property
        def control(self) -> Composer:
            return self.composer

    class EditLast(Message):
        """Up in an empty composer: the user wants the last prompt back to edit it."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus",
                         highlight_cursor_line=False, placeholder=PLACEHOLDER)
        self.editing: str | None = None
        """The id of the user message being edited, while the composer holds an edit of it."""
        self.sending = False
        """A Submitted is posted and not yet handled: Enter does nothing until then (see :meth:`submission_done`)."""

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            # Two Enters read in one go (a key bounce, quick taps while the app is busy) both arrive before the
            # first submit is handled and the composer cleared: only the first may send.
            if self.text.strip() and not self.sending:
                self.sending = True
                self.post_message(self.Submitted(self, self.text))
            return
        if event.key in ("shift+enter", "ctrl+j"):
            event.stop()
            event.prevent_default()
            start, end = self.selection
            self._replace_via_keyboard("\n", start, end)
            return
        await super()._on_key(event)

    def get_line(self, line_index: int) -> Text:
        # A prompt can come back from the database (↑ edits it) or be pasted: drawn with its control characters
        # visible, one for one, so the cursor and selection offsets still match the text that is sent.
        return Text(editable(self.document.get_line(line_index)), end="", no_wrap=True)

    def submission_done(self) -> None:
        """The screen has handled the last Submitted (accepted or refused): Enter sends again."""
        self.sending = False

    def _chat_log(self) -> ChatLog | None:
        """The log of the conversation on screen."""
        from salon.tui.widgets.chat_log import ChatLog

        logs = [log for log in self.screen.query(ChatLog) if log.display and log.parent and log.parent.display]
        return logs[0] if logs else None

    def action_focus_messages(self) -> None:
        # The log of the conversation on screen is where messages are selected, copied and regenerated.
        if log := self._chat_log():
            log.focus()
        else:
            self.screen.focus_next()

    async def action_scroll_messages(self, where: str) -> None:
        log = self._chat_log()
        if log is None:
            return
        if where == "page_up":
            log.scroll_page_up(animate=False)
        elif where == "page_down":
            log.scroll_page_down(animate=False)
        elif where == "top":
            await log.action_oldest()
        else:
            await log.action_latest()

    def action_edit_last(self) -> None:
        if self.text:
            self.action_cursor_up()
        else:
            self.post_message(self.EditLast())

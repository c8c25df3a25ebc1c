"""The list of stored conversations, newest first, read a page at a time so start-up never waits for it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from salon.tui.plain import plain, safe_text

if TYPE_CHECKING:
    from salon.store import Conversation, Store

PAGE = 50


def age(seconds: float) -> str:
    if seconds < 90:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min ago"
    if seconds < 86400:
        return f"{seconds // 3600:.0f} h ago"
    return f"{seconds // 86400:.0f} d ago"


def messages(count: int) -> str:
    return "1 message" if count == 1 else f"{count:,} messages"


class ConversationList(OptionList):
    """Enter opens a conversation; F2 renames it; Delete removes it (after a confirmation)."""

    BINDINGS = [
        Binding("f2,r", "rename", "Rename", id="conversation-rename"),
        Binding("delete,d", "delete", "Delete", id="conversation-delete"),
    ]

    class Open(Message):
        def __init__(self, conversation_id: str) -> None:
            super().__init__()
            self.conversation_id = conversation_id

    class Rename(Message):
        def __init__(self, conversation: Conversation) -> None:
            super().__init__()
            self.conversation = conversation

    class Delete(Message):
        def __init__(self, conversation: Conversation) -> None:
            super().__init__()
            self.conversation = conversation

    def __init__(self, store: Store | None = None, current: str | None = None, *,
                 now: Callable[[], float] = time.time, id: str | None = None) -> None:
        super().__init__(id=id)
        self.store = store
        self.current = current
        self.conversations: list[Conversation] = []
        self._now = now
        self._exhausted = False
        self.border_title = "Conversations"

    def on_mount(self) -> None:
        self.load(self.store, self.current)

    def load(self, store: Store | None, current: str | None = None) -> None:
        """(Re)read the first page; later pages come as the highlight nears the end."""
        self.store = store
        self.current = current
        highlighted = self.highlighted_conversation
        self.conversations = []
        self._exhausted = False
        self.clear_options()
        if store is None:
            self.add_option(Option(Content.styled("Not saving: no history in this session", "$text-muted"),
                                   disabled=True))
            return
        self._more()
        if not self.conversations:
            self.add_option(Option(Content.styled("No conversations yet", "$text-muted"), disabled=True))
        target = highlighted or current
        self.highlighted = next((i for i, c in enumerate(self.conversations) if c.id == target),
                                0 if self.conversations else None)

    def _more(self) -> None:
        if self.store is None or self._exhausted:
            return
        try:
            page = self.store.conversations(limit=PAGE, offset=len(self.conversations))
        except Exception as error:  # a StoreError: show it where the list would be
            self._exhausted = True
            self.add_option(Option(plain(f"Cannot read conversations: {error}"), disabled=True))
            return
        self._exhausted = len(page) < PAGE
        self.conversations.extend(page)
        now = self._now()
        self.add_options([self._option(c, now) for c in page])

    def _option(self, conversation: Conversation, now: float) -> Option:
        mark = Content.styled("● ", "$accent") if conversation.id == self.current else Content("  ")
        title = Content.styled(safe_text(conversation.display_title), "bold")
        # What changes most first: a long agent id is what the ellipsis cuts.
        count = messages(conversation.message_count)
        detail = f"{age(now - conversation.updated_at)} · {count} · {conversation.agent_id}"
        return Option(Content.assemble(mark, title, "\n  ", (safe_text(detail), "$text-muted")),
                      id=conversation.id)

    @property
    def highlighted_conversation(self) -> str | None:
        if self.highlighted is None or self.highlighted >= len(self.conversations):
            return None
        return self.conversations[self.highlighted].id

    def watch_highlighted(self, highlighted: int | None) -> None:
        super().watch_highlighted(highlighted)
        if highlighted is not None and highlighted >= len(self.conversations) - 5:
            self._more()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Open(event.option.id))

    def _highlighted(self) -> Conversation | None:
        if self.highlighted is None or self.highlighted >= len(self.conversations):
            return None
        return self.conversations[self.highlighted]

    def action_rename(self) -> None:
        if conversation := self._highlighted():
            self.post_message(self.Rename(conversation))

    def action_delete(self) -> None:
        if conversation := self._highlighted():
            self.post_message(self.Delete(conversation))

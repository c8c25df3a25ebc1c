"""Which conversations are open and on screen: new, switch, search, open, rename, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events

from salon.errors import SalonError, UnknownAgent

if TYPE_CHECKING:
    from salon.store import SearchHit
    from salon.tui.services import Services
    from salon.tui.widgets.chat_view import ChatView
    from salon.tui.widgets.conversation_list import ConversationList


NARROW = 90
"""Below this many columns the conversation list is hidden until asked for (its key): the chat keeps the room."""


class Conversations:
    """Part of :class:`~salon.tui.screens.chat.ChatScreen`: the conversation list's requests and the views they open."""

    services: Services
    _show_conversations: bool
    _narrow: bool
    _focus_list_when_mounted: bool

    def store_ready(self) -> None:
        """The store opened (or failed to): fresh conversations use it from now on, the list can load."""
        for view in self.views():
            view.data.adopt(self.services.store)
        from salon.tui.widgets.conversation_list import ConversationList

        listing = ConversationList(self.services.store, self.view.data.conversation_id, id="conversations")
        self.query_one("#sidebar").mount(listing)
        if self._focus_list_when_mounted and self.query_one("#sidebar").display:
            # The list's key came before the list existed (a slow start): it still means "take me to the list".
            self.call_after_refresh(listing.focus)
        self._focus_list_when_mounted = False
        self._refresh_status()

    def reload_conversations(self) -> None:
        """Show the store's conversations afresh (a no-op until the list has mounted)."""
        for listing in self.query("#conversations"):
            listing.load(self.services.store, self.view.data.conversation_id)  # type: ignore[attr-defined]

    def action_new_conversation(self) -> None:
        view = self.view
        if not view.busy and view.data.conversation_id is None and not view.data.count():
            self.composer.focus()
            return
        self.show(self._new_view(view.agent, view.model_override))

    def action_toggle_conversations(self) -> None:
        sidebar = self.query_one("#sidebar")
        listing = self.query("#conversations")
        if sidebar.display and listing and not listing.first().has_focus:
            # Shown but not in use: the key goes to the list first; pressed again, it hides it.
            listing.first().focus()
            return
        sidebar.display = not sidebar.display
        self._show_conversations = sidebar.display
        self._focus_list_when_mounted = sidebar.display and not listing
        if sidebar.display and listing:
            listing.first().focus()
        else:
            self.composer.focus()

    def on_resize(self, event: events.Resize) -> None:
        narrow = event.size.width < NARROW
        if narrow != self._narrow:
            self._narrow = narrow
            # Only the width decides here; the list's key still shows (or hides) it at any width.
            self.query_one("#sidebar").display = self._show_conversations and not narrow

    def action_search(self) -> None:
        from salon.tui.screens.search import SearchScreen

        def chosen(hit: SearchHit | None) -> None:
            if hit is not None:
                self.call_later(self.open_conversation, hit.conversation_id, hit)

        self.app.push_screen(SearchScreen(self.services.store), chosen)

    def show(self, view: ChatView) -> None:
        """Put ``view`` on screen (mounting it if new); the composer's draft follows its conversation."""
        old = self.view
        if view is old:
            return
        old.draft = self.composer.text
        if self.composer.editing is not None:
            self._end_edit(clear=False)
        self._current = view
        if not view.is_attached:
            self.switcher.add_content(view, set_current=True)
        else:
            self.switcher.current = view.id
        self.composer.text = view.draft
        self.composer.focus()
        self.status.rate = None
        self._prune_views()
        self._refresh_status()
        self.reload_conversations()

    def _prune_views(self) -> None:
        # Conversations off screen stay mounted only while they stream: memory stays flat however many are opened.
        current = self.view
        for view in self.views():
            if view is not current and not view.busy and not view.draft:
                view.remove()

    async def on_conversation_list_open(self, event: ConversationList.Open) -> None:
        await self.open_conversation(event.conversation_id)

    async def open_conversation(self, conversation_id: str, hit: SearchHit | None = None) -> None:
        view = next((v for v in self.views() if v.data.conversation_id == conversation_id), None)
        if view is None:
            store = self.services.store
            if store is None:
                return
            try:
                conversation = store.conversation(conversation_id)
            except SalonError as error:
                self.notify(str(error), severity="error")
                return
            try:
                agent = self.services.agent(conversation.agent_id)
            except UnknownAgent:
                agent = self.view.agent
                self.notify(f"Agent '{conversation.agent_id}' no longer exists; {agent.name} answers here now.",
                            severity="warning")
            # The model picked for it (ctrl+o) is the conversation's, kept across restarts.
            view = self._new_view(agent, conversation.model, conversation)
        if hit is not None:
            await view.show_message(max(0, hit.seq - 1), hit.message_id)
        self.show(view)

    def on_conversation_list_rename(self, event: ConversationList.Rename) -> None:
        from salon.tui.screens.text_prompt import TextPrompt

        conversation = event.conversation

        def renamed(title: str | None) -> None:
            store = self.services.store
            if title is None or store is None:
                return
            try:
                store.rename_conversation(conversation.id, title)
            except SalonError as error:
                self.notify(str(error), severity="error")
                return
            for view in self.views():
                if view.data.conversation_id == conversation.id:
                    view.data.title = title
            self.reload_conversations()

        self.app.push_screen(TextPrompt("Rename conversation", conversation.title), renamed)

    def on_conversation_list_delete(self, event: ConversationList.Delete) -> None:
        from salon.tui.screens.confirm import ConfirmScreen

        conversation = event.conversation
        open_view = next((v for v in self.views() if v.data.conversation_id == conversation.id), None)
        if open_view is not None and open_view.busy:
            self.notify("That conversation is still replying: stop it first (Esc).", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            store = self.services.store
            if not yes or store is None:
                return
            try:
                store.delete_conversation(conversation.id)
            except SalonError as error:
                self.notify(str(error), severity="error")
                return
            if open_view is not None:
                if open_view is self.view:
                    self.show(self._new_view(open_view.agent, open_view.model_override))
                open_view.draft = ""
                if open_view.is_attached:
                    open_view.remove()
            self.reload_conversations()
            self.notify(f"Deleted “{conversation.display_title}”.")

        self.app.push_screen(ConfirmScreen(
            "Delete this conversation?",
            f"“{conversation.display_title}” and its {conversation.message_count} messages will be gone for good.",
            yes="Delete", no="Keep", danger=True), answered)

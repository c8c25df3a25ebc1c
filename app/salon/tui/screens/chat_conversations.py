"""Which conversations are open and on screen: new, switch, search, open, rename, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING

from salon.errors import SalonError, UnknownAgent

if TYPE_CHECKING:
    from salon.store import SearchHit
    from salon.tui.screens.chat_host import ChatHost
    from salon.tui.widgets.chat_view import ChatView
    from salon.tui.widgets.conversation_list import ConversationList


NARROW = 90
"""Below this many columns the conversation list is hidden until asked for (its key): the chat keeps the room."""


class Conversations:
    """The chat screen's part that answers the conversation list and opens, shows and closes conversations."""

    def __init__(self, screen: ChatHost, *, show_list: bool) -> None:
        self.screen = screen
        self.show_list = show_list
        """Whether the user wants the list shown (a narrow window hides it all the same)."""
        self._narrow = False
        self._focus_list_when_mounted = False

    def store_ready(self) -> None:
        """The store opened (or failed to): fresh conversations use it from now on, the list can load."""
        from salon.tui.widgets.conversation_list import ConversationList

        screen = self.screen
        store = screen.services.store
        for view in screen.views():
            view.data.adopt(store)
        listing = ConversationList(store, screen.view.data.conversation_id, id="conversations")
        sidebar = screen.query_one("#sidebar")
        sidebar.mount(listing)
        if self._focus_list_when_mounted and sidebar.display:
            # The list's key came before the list existed (a slow start): it still means "take me to the list".
            screen.call_after_refresh(listing.focus)
        self._focus_list_when_mounted = False
        screen.refresh_status()

    def reload(self) -> None:
        """Show the store's conversations afresh (a no-op until the list has mounted)."""
        from salon.tui.widgets.conversation_list import ConversationList

        screen = self.screen
        for listing in screen.query("#conversations").results(ConversationList):
            listing.load(screen.services.store, screen.view.data.conversation_id)

    def new(self) -> None:
        screen = self.screen
        view = screen.view
        if not view.busy and view.data.conversation_id is None and not view.data.count():
            screen.composer.focus()
            return
        self.show(screen.new_view(view.agent, view.model_override))

    def toggle_list(self) -> None:
        screen = self.screen
        sidebar = screen.query_one("#sidebar")
        listing = screen.query("#conversations")
        if sidebar.display and listing and not listing.first().has_focus:
            # Shown but not in use: the key goes to the list first; pressed again, it hides it.
            listing.first().focus()
            return
        sidebar.display = not sidebar.display
        self.show_list = sidebar.display
        self._focus_list_when_mounted = sidebar.display and not listing
        if sidebar.display and listing:
            listing.first().focus()
        else:
            screen.composer.focus()

    def resized(self, width: int) -> None:
        narrow = width < NARROW
        if narrow != self._narrow:
            self._narrow = narrow
            # Only the width decides here; the list's key still shows (or hides) it at any width.
            self.screen.query_one("#sidebar").display = self.show_list and not narrow

    def search(self) -> None:
        from salon.tui.screens.search import SearchScreen

        screen = self.screen

        def chosen(hit: SearchHit | None) -> None:
            if hit is not None:
                screen.call_later(self.open, hit.conversation_id, hit)

        screen.app.push_screen(SearchScreen(screen.services.store), chosen)

    def show(self, view: ChatView) -> None:
        """Put ``view`` on screen (mounting it if new); the composer's draft follows its conversation."""
        screen = self.screen
        composer = screen.composer
        old = screen.view
        if view is old:
            return
        old.draft = composer.text
        if composer.editing is not None:
            screen.sending.end_edit(clear=False)
        screen.set_current(view)
        if not view.is_attached:
            screen.switcher.add_content(view, set_current=True)
        else:
            screen.switcher.current = view.id
        composer.text = view.draft
        composer.focus()
        screen.status.rate = None
        self.prune()
        screen.refresh_status()
        self.reload()

    def prune(self) -> None:
        # Conversations off screen stay mounted only while they stream: memory stays flat however many are opened.
        current = self.screen.view
        for view in self.screen.views():
            if view is not current and not view.busy and not view.draft:
                view.remove()

    async def open(self, conversation_id: str, hit: SearchHit | None = None) -> None:
        screen = self.screen
        view = next((v for v in screen.views() if v.data.conversation_id == conversation_id), None)
        if view is None:
            store = screen.services.store
            if store is None:
                return
            try:
                conversation = store.conversation(conversation_id)
            except SalonError as error:
                screen.notify(str(error), severity="error")
                return
            try:
                agent = screen.services.agent(conversation.agent_id)
            except UnknownAgent:
                agent = screen.view.agent
                screen.notify(f"Agent '{conversation.agent_id}' no longer exists; {agent.name} answers here now.",
                              severity="warning")
            # The model picked for it (ctrl+o) is the conversation's, kept across restarts.
            view = screen.new_view(agent, conversation.model, conversation)
        if hit is not None:
            await view.show_message(max(0, hit.seq - 1), hit.message_id)
        self.show(view)

    def rename(self, event: ConversationList.Rename) -> None:
        from salon.tui.screens.text_prompt import TextPrompt

        screen = self.screen
        conversation = event.conversation

        def renamed(title: str | None) -> None:
            store = screen.services.store
            if title is None or store is None:
                return
            try:
                store.rename_conversation(conversation.id, title)
            except SalonError as error:
                screen.notify(str(error), severity="error")
                return
            for view in screen.views():
                if view.data.conversation_id == conversation.id:
                    view.data.title = title
            self.reload()

        screen.app.push_screen(TextPrompt("Rename conversation", conversation.title), renamed)

    def delete(self, event: ConversationList.Delete) -> None:
        from salon.tui.screens.confirm import ConfirmScreen

        screen = self.screen
        conversation = event.conversation
        open_view = next((v for v in screen.views() if v.data.conversation_id == conversation.id), None)
        if open_view is not None and open_view.busy:
            screen.notify("That conversation is still replying: stop it first (Esc).", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            store = screen.services.store
            if not yes or store is None:
                return
            try:
                store.delete_conversation(conversation.id)
            except SalonError as error:
                screen.notify(str(error), severity="error")
                return
            if open_view is not None:
                if open_view is screen.view:
                    self.show(screen.new_view(open_view.agent, open_view.model_override))
                open_view.draft = ""
                if open_view.is_attached:
                    open_view.remove()
            self.reload()
            screen.notify(f"Deleted “{conversation.display_title}”.")

        screen.app.push_screen(ConfirmScreen(
            "Delete this conversation?",
            f"“{conversation.display_title}” and its {conversation.message_count} messages will be gone for good.",
            yes="Delete", no="Keep", danger=True), answered)

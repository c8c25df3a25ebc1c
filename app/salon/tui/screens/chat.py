"""The main screen: conversation list, the open conversation, the composer, the status line and key hints.

It routes what the user does to the conversation on screen (a :class:`ChatView`) and turns failures into something
the user can act on: a banner when Ollama is unreachable, an offer to pull a missing model, a retry.
"""

from __future__ import annotations

from contextlib import suppress
from itertools import count
from typing import TYPE_CHECKING

from textual import on, work
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer
from textual.worker import WorkerCancelled, WorkerFailed

from salon.errors import ModelNotFound, SalonError, ServerUnreachable, UnknownAgent
from salon.tui.conversation import ConversationData
from salon.tui.widgets.banner import Banner, unreachable_text
from salon.tui.widgets.chat_log import ChatLog
from salon.tui.widgets.chat_view import ChatView
from salon.tui.widgets.composer import Composer
from salon.tui.widgets.message import LiveMessage
from salon.tui.widgets.status import Connection, StatusLine

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from salon.agents import Agent
    from salon.api import ModelInfo
    from salon.store import Conversation, SearchHit
    from salon.tui.services import Services
    from salon.tui.widgets.conversation_list import ConversationList

EDITING_TITLE = "Editing your last prompt · Enter resends it · Esc cancels"


class ChatScreen(Screen[None]):
    """Holds every open conversation (several may stream at once); shows one."""

    BINDINGS = [
        # Not ctrl+a (GNU screen's prefix, and the composer's "start of line") nor ctrl+b alone (tmux's prefix):
        # defaults stay clear of keys terminals swallow (salon.keymap.SWALLOWED_KEYS); ctrl+b stays as a second key.
        Binding("ctrl+t", "pick_agent", "Persona", id="pick-agent"),
        Binding("ctrl+o", "pick_model", "Model", id="pick-model"),
        Binding("escape", "stop", "Stop", id="stop-reply"),
        Binding("ctrl+r", "regenerate", "Regenerate", id="regenerate"),
        Binding("ctrl+n", "new_conversation", "New", id="new-conversation"),
        Binding("ctrl+g,ctrl+b", "toggle_conversations", "Chats", id="toggle-conversations"),
        Binding("ctrl+f", "search", "Search", id="search"),
        Binding("f1,alt+h", "app.help", "Help", show=False, id="help"),  # the welcome text names it
        Binding("f3,ctrl+comma", "app.settings", "Settings", show=False, id="settings"),
    ]

    def __init__(self, services: Services, agent: Agent, model: str | None = None,
                 *, show_conversations: bool = False) -> None:
        super().__init__(id="chat-screen")
        self.services = services
        self._first_agent = agent
        self._first_model = model
        self._show_conversations = show_conversations
        self._view_ids = count(1)
        self.connection: Connection = "unknown"
        self.models: list[ModelInfo] | None = None
        self._streaming: set[ChatView] = set()

    # -- layout ------------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            # The list itself mounts after the first frame, with the database (see store_ready).
            sidebar = Vertical(id="sidebar")
            sidebar.display = self._show_conversations
            yield sidebar
            with Vertical(id="chat"):
                yield Banner(id="banner")
                first = self._new_view(self._first_agent, self._first_model)
                self._current = first
                with ContentSwitcher(initial=first.id, id="views"):
                    yield first
                yield Composer(id="composer")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.composer.cursor_blink = getattr(self.app, "cursor_blink", True)
        self.composer.focus()
        self._refresh_status()
        # Nothing slow before the window is drawn: the database and the Ollama host come after the first frame.
        if callback := getattr(self.app, "after_first_frame", None):
            self.call_after_refresh(callback)

    @property
    def composer(self) -> Composer:
        return self.query_one(Composer)

    @property
    def status(self) -> StatusLine:
        return self.query_one(StatusLine)

    @property
    def switcher(self) -> ContentSwitcher:
        return self.query_one("#views", ContentSwitcher)

    @property
    def view(self) -> ChatView:
        """The conversation on screen (or about to be: a new view may still be mounting)."""
        return self._current

    def views(self) -> list[ChatView]:
        return list(self.query(ChatView))

    def _new_view(self, agent: Agent, model: str | None, conversation: Conversation | None = None) -> ChatView:
        data = ConversationData(self.services.store, agent.id, conversation.id if conversation else None,
                                conversation.title if conversation else "")
        return ChatView(self.services, data, agent, model, id=f"view-{next(self._view_ids)}")

    def _refresh_status(self) -> None:
        status = self.status
        view = self.view
        status.agent = view.agent.name
        status.model = view.model
        status.host = self.services.session.host
        status.connection = self.connection if self._uses_ollama(view) else "not used"
        status.streaming = len(self._streaming)
        status.stored = f"not saved: {self.services.store_problem}" if self.services.store_problem else ""

    def _uses_ollama(self, view: ChatView) -> bool:
        return self.services.session.needs_host(self._models_of(view))

    @staticmethod
    def _models_of(view: ChatView) -> list[str]:
        return [view.model_override] if view.model_override else list(view.agent.models)

    # -- after the first frame: the store, the list of conversations, the Ollama host --------------------------

    def store_ready(self) -> None:
        """The store opened (or failed to): fresh conversations use it from now on, the list can load."""
        for view in self.views():
            if view.data.conversation_id is None and view.data.count() == 0:
                view.data.store = self.services.store
        from salon.tui.widgets.conversation_list import ConversationList

        self.query_one("#sidebar").mount(ConversationList(self.services.store, self.view.data.conversation_id,
                                                          id="conversations"))
        self._refresh_status()

    def reload_conversations(self) -> None:
        """Show the store's conversations afresh (a no-op until the list has mounted)."""
        for listing in self.query("#conversations"):
            listing.load(self.services.store, self.view.data.conversation_id)  # type: ignore[attr-defined]

    @work(group="connection")
    async def check_connection(self) -> bool:
        """Ask the Ollama host for its models: tells the status line whether it answers."""
        if not self._uses_ollama(self.view):
            return True
        self._set_connection("checking")
        try:
            self.models = await self.services.session.host_models()
        except SalonError as error:
            self._set_connection("down", str(error))
            return False
        self._set_connection("up")
        return True

    def _set_connection(self, state: Connection, problem: str = "") -> None:
        self.connection = state
        banner = self.query_one(Banner)
        if state == "down":
            banner.show_problem(unreachable_text(self.services.session.host))
        elif state == "up":
            banner.clear()
        self._refresh_status()

    # -- sending ---------------------------------------------------------------------------------------------

    @on(Composer.Submitted)
    async def _submitted(self, event: Composer.Submitted) -> None:
        event.stop()
        try:
            await self.send(event.text)
        finally:
            event.composer.submission_done()

    async def send(self, text: str) -> bool:
        """Send ``text`` in the conversation on screen; the composer is cleared only once it is accepted."""
        view = self.view
        composer = self.composer
        if self._uses_ollama(view) and self.connection != "up":
            worker = self.check_connection()
            with suppress(WorkerCancelled, WorkerFailed):
                await worker.wait()
            if not worker.result:
                self.notify("Ollama is not answering; your prompt is still in the box.", title="Not sent",
                            severity="error")
                return False
        missing = self._missing_model(view)
        if missing is not None:
            self.offer_pull(missing, view, text)
            return False
        if composer.editing is not None:
            accepted = await view.resend_edited(composer.editing, text)
        else:
            accepted = await view.submit(text)
        if accepted:
            self._end_edit(clear=True)
        return accepted

    def _missing_model(self, view: ChatView) -> str | None:
        if self.models is None:
            return None
        return self.services.session.missing_model(self._models_of(view), self.models)

    # -- a missing model ---------------------------------------------------------------------------------------

    def offer_pull(self, model: str, view: ChatView, prompt: str | None) -> None:
        from salon.tui.screens.confirm import ConfirmScreen

        host = self.services.session.host

        def answered(yes: bool | None) -> None:
            if yes:
                self.pull(model, view, prompt)

        self.app.push_screen(ConfirmScreen(
            f"{model} is not on {host}",
            f"Download it now? Ollama will pull '{model}' (this can take a while for large models). "
            "Your prompt is kept and sent once the model is there.",
            yes="Pull", no="Not now"), answered)

    @work(exclusive=True, group="pull")
    async def pull(self, model: str, view: ChatView, prompt: str | None) -> None:
        from salon.tui.widgets.pull_progress import PullProgress

        # Mounted on first use: most sessions never pull.
        existing = self.query(PullProgress)
        if existing:
            progress = existing.first()
        else:
            progress = PullProgress(id="pull")
            await self.query_one("#chat").mount(progress, before=self.composer)
        progress.start(model)
        try:
            async for update in self.services.session.pull(model):
                progress.show(update.status, update.completed, update.total)
        except SalonError as error:
            self.notify(str(error), title=f"Could not pull {model}", severity="error", timeout=10)
            return
        finally:
            progress.stop()
        self.notify(f"{model} is ready.", title="Pulled")
        await self.check_connection().wait()
        if prompt and view.is_attached:
            if view is self.view and self.composer.text == prompt:
                await self.send(prompt)
            else:
                await view.submit(prompt)

    # -- what the views report ---------------------------------------------------------------------------------

    @on(ChatView.Busy)
    def _busy(self, event: ChatView.Busy) -> None:
        if event.busy:
            self._streaming.add(event.view)
        else:
            self._streaming.discard(event.view)
            if event.view is self.view:
                self.status.rate = None
            self._prune_views()
        self._refresh_status()

    @on(LiveMessage.Progress)
    def _progress(self, event: LiveMessage.Progress) -> None:
        if self.connection != "up":
            self._set_connection("up")
        if event.live.is_attached and self.view in event.live.ancestors:
            self.status.rate = round(event.rate) if event.rate else None

    @on(ChatView.Failed)
    def _failed(self, event: ChatView.Failed) -> None:
        view = event.view
        if event.prompt is not None and view is self.view and not self.composer.text.strip():
            self.composer.text = event.prompt
            self.composer.move_cursor(self.composer.document.end)
        elif event.prompt is not None:
            view.draft = view.draft or event.prompt
        if isinstance(event.error, ServerUnreachable):
            self._set_connection("down", str(event.error))
            self.notify("Ollama is not answering; your prompt is back in the box.", title="Not sent",
                        severity="error")
        elif isinstance(event.error, ModelNotFound):
            if model := self.services.session.pullable_model(self._models_of(view)):
                self.offer_pull(model, view, None)
        else:
            self.notify(str(event.error), title="The reply failed", severity="error", timeout=8)

    @on(ChatView.Changed)
    def _changed(self, event: ChatView.Changed) -> None:
        if event.view is self.view:
            self._refresh_status()
        self.reload_conversations()

    @on(ChatLog.Regenerate)
    async def _log_regenerate(self) -> None:
        await self.action_regenerate()

    @on(ChatLog.Edit)
    def _log_edit(self) -> None:
        self.action_edit_last()

    @on(Composer.EditLast)
    def _composer_edit(self) -> None:
        self.action_edit_last()

    # -- actions -----------------------------------------------------------------------------------------------

    def action_stop(self) -> None:
        view = self.view
        if view.busy:
            queued = view.take_queued()
            view.cancel()
            if queued and not self.composer.text.strip():
                self.composer.text = queued
            return
        if self.composer.editing is not None:
            self._end_edit(clear=True)
            return
        if self.focused is not self.composer:
            self.composer.focus()

    async def action_regenerate(self) -> None:
        await self.view.regenerate()

    def action_edit_last(self) -> None:
        view = self.view
        if view.busy:
            self.notify("Wait for the reply to finish, or press Esc to stop it.", severity="warning")
            return
        last = view.last_prompt()
        if last is None:
            self.notify("There is no prompt to edit yet.", severity="warning")
            return
        composer = self.composer
        composer.editing = last.id
        composer.text = last.text
        composer.move_cursor(composer.document.end)
        composer.border_title = EDITING_TITLE
        composer.add_class("-editing")
        composer.focus()

    def _end_edit(self, *, clear: bool) -> None:
        composer = self.composer
        if clear:
            composer.clear()
        composer.editing = None
        composer.border_title = None
        composer.remove_class("-editing")

    def action_pick_agent(self) -> None:
        from salon.tui.screens.agent_picker import AgentPicker

        def chosen(agent_id: str | None) -> None:
            if agent_id is None or agent_id == self.view.agent.id:
                return
            try:
                agent = self.services.agent(agent_id)
            except UnknownAgent as error:
                self.notify(str(error), severity="error")
                return
            self.view.set_agent(agent)
            self._refresh_status()
            self.check_connection()
            self.warm_cloud(self.view)
            self.notify(f"The next reply comes from {agent.name}.", title="Persona")
            # The persona last picked is the one the next start opens with (saved to config.toml).
            if remember := getattr(self.app, "remember_setting", None):
                remember("default_agent", agent.id)

        agents = sorted(self.services.session.catalog.agents.values(), key=lambda agent: agent.id)
        self.app.push_screen(AgentPicker(agents, self.view.agent.id), chosen)

    def action_pick_model(self) -> None:
        from salon.tui.screens.model_picker import AGENT_DEFAULT, ModelPicker

        view = self.view

        def chosen(model: str | None) -> None:
            if model is None or not view.is_attached:
                return
            view.set_model(None if model == AGENT_DEFAULT else model)
            self._refresh_status()
            self.check_connection()
            self.warm_cloud(view)

        self.app.push_screen(ModelPicker(self.services.session, view.model_override, ", ".join(view.agent.models)),
                             chosen)

    @work(group="litellm")
    async def warm_cloud(self, view: ChatView) -> None:
        """A cloud model was picked: import litellm now, off the event loop, so the first reply does not wait."""
        await self.services.session.warm_up(self._models_of(view))

    def action_copy_reply(self) -> None:
        self.view.chat_log.action_copy_message()

    def action_copy_code(self) -> None:
        self.view.chat_log.action_copy_code()

    def action_check_connection(self) -> None:
        self.check_connection()

    def action_new_conversation(self) -> None:
        view = self.view
        if not view.busy and view.data.conversation_id is None and not view.data.count():
            self.composer.focus()
            return
        self.show(self._new_view(view.agent, view.model_override))

    def action_toggle_conversations(self) -> None:
        sidebar = self.query_one("#sidebar")
        sidebar.display = not sidebar.display
        listing = self.query("#conversations")
        if sidebar.display and listing:
            listing.first().focus()
        else:
            self.composer.focus()

    def action_search(self) -> None:
        from salon.tui.screens.search import SearchScreen

        def chosen(hit: SearchHit | None) -> None:
            if hit is not None:
                self.call_later(self.open_conversation, hit.conversation_id, hit)

        self.app.push_screen(SearchScreen(self.services.store), chosen)

    # -- switching conversations --------------------------------------------------------------------------------

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
            view = self._new_view(agent, None, conversation)
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

"""The main screen: conversation list, the open conversation, the composer, the status line and key hints.

It routes what the user does to the conversation on screen (a :class:`ChatView`) and turns failures into something
the user can act on: a banner when Ollama is unreachable, an offer to pull a missing model, a retry. This module
holds the layout and the routing; each concern is a collaborator the screen holds, typed, and hands itself to:
sending (``chat_sending``), the model server and its models (``chat_models``), pulling (``chat_pulling``), and the
open conversations (``chat_conversations``). Textual finds actions, message handlers and workers on the screen, so
those stay here, each a line that hands over to its part.
"""

from __future__ import annotations

from itertools import count
from typing import TYPE_CHECKING

from textual import events, on, work
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer

from salon.errors import UnknownAgent
from salon.tui.conversation import ConversationData
from salon.tui.screens.chat_conversations import Conversations
from salon.tui.screens.chat_models import ModelAvailability
from salon.tui.screens.chat_pulling import Pulling
from salon.tui.screens.chat_sending import EDITING_TITLE, Sending
from salon.tui.services import SalonApp, salon_app
from salon.tui.widgets.banner import Banner
from salon.tui.widgets.chat_log import ChatLog
from salon.tui.widgets.chat_view import ChatView
from salon.tui.widgets.composer import Composer
from salon.tui.widgets.live_message import LiveMessage
from salon.tui.widgets.status import StatusLine
from salon.tui.widgets.tool_steps import AskApproval

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from salon.agents.definition import Agent
    from salon.store import Conversation, SearchHit
    from salon.tui.services import Services
    from salon.tui.widgets.conversation_list import ConversationList

__all__ = ["EDITING_TITLE", "ChatScreen"]


class ChatScreen(Screen[None]):
    """Holds every open conversation (several may stream at once); shows one."""

    BINDINGS = [
        # Not ctrl+a (GNU screen's prefix, and the composer's "start of line") nor ctrl+b alone (tmux's prefix):
        # defaults stay clear of keys terminals swallow (salon.config.keymap.SWALLOWED_KEYS); ctrl+b stays as a
        # second key.
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
        self._view_ids = count(1)
        self._current: ChatView
        self._streaming: set[ChatView] = set()
        self._tool_activity_of: dict[ChatView, str] = {}
        """What each view's tool step is doing (a reply of an agent that hides its text shows it only here)."""
        self.sending = Sending(self)
        self.availability = ModelAvailability(self)
        self.pulling = Pulling(self)
        self.conversations = Conversations(self, show_list=show_conversations)

    @property
    def salon_app(self) -> SalonApp:
        return salon_app(self)

    # -- layout ------------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            # The list itself mounts after the first frame, with the database (see store_ready).
            sidebar = Vertical(id="sidebar")
            sidebar.display = self.conversations.show_list
            yield sidebar
            with Vertical(id="chat"):
                yield Banner(id="banner")
                first = self.new_view(self._first_agent, self._first_model)
                self._current = first
                with ContentSwitcher(initial=first.id, id="views"):
                    yield first
                yield Composer(id="composer")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        app = self.salon_app
        self.composer.cursor_blink = app.cursor_blink
        self.composer.focus()
        self.refresh_status()
        # Nothing slow before the window is drawn: the database and the Ollama host come after the first frame.
        self.call_after_refresh(app.after_first_frame)

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

    def set_current(self, view: ChatView) -> None:
        """``view`` is the conversation on screen from now on (see ``Conversations.show``, which mounts it)."""
        self._current = view

    def views(self) -> list[ChatView]:
        return list(self.query(ChatView))

    def new_view(self, agent: Agent, model: str | None, conversation: Conversation | None = None) -> ChatView:
        data = ConversationData(self.services.store, agent.id, conversation.id if conversation else None,
                                conversation.title if conversation else "", model)
        return ChatView(self.services, data, agent, model, id=f"view-{next(self._view_ids)}")

    def refresh_status(self) -> None:
        status = self.status
        view = self.view
        status.agent = view.agent.name
        status.model = view.model
        status.host = self.services.session.host
        status.connection = self.availability.connection if self.availability.uses_ollama(view) else "not used"
        status.streaming = len(self._streaming)
        status.tool = self._tool_activity_of.get(view, "")
        status.stored = f"not saved: {self.services.store_problem}" if self.services.store_problem else ""

    # -- what the app and the parts start ------------------------------------------------------------------------

    def store_ready(self) -> None:
        """The store opened (or failed to): the conversation list can load."""
        self.conversations.store_ready()

    @work(group="connection")
    async def check_connection(self) -> bool:
        """Ask the Ollama host for its models: tells the status line whether it answers."""
        return await self.availability.check()

    @work(group="litellm")
    async def warm_cloud(self, view: ChatView) -> None:
        await self.availability.warm_cloud(view)

    @work(exclusive=True, group="pull")
    async def pull(self, model: str, view: ChatView, prompt: str | None) -> None:
        await self.pulling.pull(model, view, prompt)

    async def send(self, text: str) -> bool:
        return await self.sending.send(text)

    async def open_conversation(self, conversation_id: str, hit: SearchHit | None = None) -> None:
        await self.conversations.open(conversation_id, hit)

    # -- sending ---------------------------------------------------------------------------------------------

    @on(Composer.Submitted)
    async def _submitted(self, event: Composer.Submitted) -> None:
        event.stop()
        try:
            await self.sending.send(event.text)
        finally:
            event.composer.submission_done()

    # -- what the views report ---------------------------------------------------------------------------------

    @on(ChatView.Busy)
    def _busy(self, event: ChatView.Busy) -> None:
        if event.busy:
            self._streaming.add(event.view)
        else:
            self._streaming.discard(event.view)
            if event.view is self.view:
                self.status.rate = None
            self.conversations.prune()
            # The reply is stored now: the list's message count takes it in.
            self.conversations.reload()
        self.refresh_status()

    @on(ChatView.Failed)
    def _failed(self, event: ChatView.Failed) -> None:
        self.sending.failed(event)

    @on(LiveMessage.Progress)
    def _progress(self, event: LiveMessage.Progress) -> None:
        if self.availability.connection != "up":
            self.availability.set_connection("up")
        if event.live.is_attached and self.view in event.live.ancestors:
            self.status.rate = round(event.rate) if event.rate else None

    @on(ChatView.ToolActivity)
    def _tool_activity(self, event: ChatView.ToolActivity) -> None:
        if event.text:
            self._tool_activity_of[event.view] = event.text
        else:
            self._tool_activity_of.pop(event.view, None)
        if event.view is self.view:
            self.status.tool = event.text

    @on(AskApproval)
    def _ask_approval(self, event: AskApproval) -> None:
        event.stop()
        if event.steps.asking(event.question):
            from salon.tui.screens.approval import ApprovalScreen

            question = event.question
            dialog = ApprovalScreen(question.call, question.agent, waiting=question.waiting, where=question.where)
            event.steps.showing(question, dialog)
            self.app.push_screen(dialog, event.answered)

    @on(ChatView.StopRequested)
    def _stop_requested(self, event: ChatView.StopRequested) -> None:
        if event.view is self.view:
            self.action_stop()
        else:
            event.view.cancel()

    @on(ChatView.Changed)
    def _changed(self, event: ChatView.Changed) -> None:
        if event.view is self.view:
            self.refresh_status()
        self.conversations.reload()

    @on(ChatLog.Regenerate)
    async def _log_regenerate(self) -> None:
        await self.action_regenerate()

    @on(ChatLog.Edit)
    def _log_edit(self) -> None:
        self.action_edit_last()

    @on(Composer.EditLast)
    def _composer_edit(self) -> None:
        self.action_edit_last()

    # -- the conversation list and the window -----------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self.conversations.resized(event.size.width)

    async def on_conversation_list_open(self, event: ConversationList.Open) -> None:
        await self.conversations.open(event.conversation_id)

    def on_conversation_list_rename(self, event: ConversationList.Rename) -> None:
        self.conversations.rename(event)

    def on_conversation_list_delete(self, event: ConversationList.Delete) -> None:
        self.conversations.delete(event)

    # -- actions -----------------------------------------------------------------------------------------------

    def action_stop(self) -> None:
        self.sending.stop()

    async def action_regenerate(self) -> None:
        await self.view.regenerate()

    def action_edit_last(self) -> None:
        self.sending.edit_last()

    def action_pick_model(self) -> None:
        self.availability.pick_model()

    def action_check_connection(self) -> None:
        self.check_connection()

    def action_new_conversation(self) -> None:
        self.conversations.new()

    def action_toggle_conversations(self) -> None:
        self.conversations.toggle_list()

    def action_search(self) -> None:
        self.conversations.search()

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
            self.refresh_status()
            self.check_connection()
            self.warm_cloud(self.view)
            # For this conversation only: the default (next start, `salon ask`) changes only when asked to.
            self.notify(f"The next reply comes from {agent.name}. To open with it next time: ctrl+p, "
                        "“Make this persona the default”.", title="Persona")

        agents = sorted(self.services.session.catalog.agents.values(), key=lambda agent: agent.id)
        self.app.push_screen(AgentPicker(agents, self.view.agent.id), chosen)

    def action_make_default_agent(self) -> None:
        """Save the persona on screen as ``default_agent``: the next start and ``salon ask`` use it."""
        agent = self.view.agent
        self.salon_app.remember_setting("default_agent", agent.id)
        self.notify(f"{agent.name} is now the default persona (config.toml).", title="Persona")

    def action_copy_reply(self) -> None:
        self.view.chat_log.action_copy_message()

    def action_copy_code(self) -> None:
        self.view.chat_log.action_copy_code()

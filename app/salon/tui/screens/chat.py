"""The main screen: conversation list, the open conversation, the composer, the status line and key hints.

It routes what the user does to the conversation on screen (a :class:`ChatView`) and turns failures into something
the user can act on: a banner when Ollama is unreachable, an offer to pull a missing model, a retry. This module
holds the layout and the routing; each concern has its own part beside it: sending (``chat_sending``), the model
server and its models (``chat_models``), pulling (``chat_pulling``), and the open conversations
(``chat_conversations``).
"""

from __future__ import annotations

from itertools import count
from typing import TYPE_CHECKING

from textual import on
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
from salon.tui.widgets.banner import Banner
from salon.tui.widgets.chat_log import ChatLog
from salon.tui.widgets.chat_view import ChatView
from salon.tui.widgets.composer import Composer
from salon.tui.widgets.live_message import LiveMessage
from salon.tui.widgets.status import Connection, StatusLine

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from salon.agents.definition import Agent
    from salon.api import ModelInfo
    from salon.store import Conversation
    from salon.tui.services import Services

__all__ = ["EDITING_TITLE", "ChatScreen"]


class ChatScreen(Sending, ModelAvailability, Pulling, Conversations, Screen[None]):
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
        self._show_conversations = show_conversations
        self._view_ids = count(1)
        self.connection: Connection = "unknown"
        self.models: list[ModelInfo] | None = None
        self._streaming: set[ChatView] = set()
        self._tool_activity_of: dict[ChatView, str] = {}
        """What each view's tool step is doing (a reply of an agent that hides its text shows it only here)."""
        self._narrow = False
        self._focus_list_when_mounted = False

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
                                conversation.title if conversation else "", model)
        return ChatView(self.services, data, agent, model, id=f"view-{next(self._view_ids)}")

    def _refresh_status(self) -> None:
        status = self.status
        view = self.view
        status.agent = view.agent.name
        status.model = view.model
        status.host = self.services.session.host
        status.connection = self.connection if self._uses_ollama(view) else "not used"
        status.streaming = len(self._streaming)
        status.tool = self._tool_activity_of.get(view, "")
        status.stored = f"not saved: {self.services.store_problem}" if self.services.store_problem else ""

    # -- sending ---------------------------------------------------------------------------------------------

    @on(Composer.Submitted)
    async def _submitted(self, event: Composer.Submitted) -> None:
        event.stop()
        try:
            await self.send(event.text)
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
            self._prune_views()
            # The reply is stored now: the list's message count takes it in.
            self.reload_conversations()
        self._refresh_status()

    @on(LiveMessage.Progress)
    def _progress(self, event: LiveMessage.Progress) -> None:
        if self.connection != "up":
            self._set_connection("up")
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

    @on(ChatView.StopRequested)
    def _stop_requested(self, event: ChatView.StopRequested) -> None:
        if event.view is self.view:
            self.action_stop()
        else:
            event.view.cancel()

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
            # For this conversation only: the default (next start, `salon ask`) changes only when asked to.
            self.notify(f"The next reply comes from {agent.name}. To open with it next time: ctrl+p, "
                        "“Make this persona the default”.", title="Persona")

        agents = sorted(self.services.session.catalog.agents.values(), key=lambda agent: agent.id)
        self.app.push_screen(AgentPicker(agents, self.view.agent.id), chosen)

    def action_make_default_agent(self) -> None:
        """Save the persona on screen as ``default_agent``: the next start and ``salon ask`` use it."""
        agent = self.view.agent
        if remember := getattr(self.app, "remember_setting", None):
            remember("default_agent", agent.id)
            self.notify(f"{agent.name} is now the default persona (config.toml).", title="Persona")

    def action_copy_reply(self) -> None:
        self.view.chat_log.action_copy_message()

    def action_copy_code(self) -> None:
        self.view.chat_log.action_copy_code()


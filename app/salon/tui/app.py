"""The Textual app that ``salon`` opens: the window first, everything slow after the first frame."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.binding import Binding

from salon.tui.commands import CHAT_COMMANDS, Command
from salon.tui.preferences import PreferencesMixin
from salon.tui.rendering import Palette
from salon.tui.services import Clock, Services

if TYPE_CHECKING:
    from textual.driver import Driver
    from textual.notifications import SeverityLevel
    from textual.screen import Screen

    from salon.api import Session
    from salon.tui.screens.chat import ChatScreen

QUIT_GRACE = 3.0
"""Seconds a quit waits for streaming replies to end as interrupted (and be saved) before it goes anyway."""

SIDEBAR_MIN_WIDTH = 110
"""At this terminal width or more, the conversation list is shown from the start."""


class SalonApp(PreferencesMixin, App[int]):
    """Chat with an agent; ``clock`` drives every figure shown (elapsed, tok/s), so tests can fix it."""

    CSS_PATH = "salon.tcss"
    TITLE = "Salon"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="quit"),
        # Textual's own palette binding has no id; declared here with one so [keymap] can move it (VS Code's
        # terminal keeps ctrl+p for itself).
        Binding("ctrl+p", "command_palette", "palette", show=False, priority=True, id="command-palette"),
    ]

    def __init__(self, session: Session | None = None, *, agent_id: str | None = None, model: str | None = None,
                 data_dir: Path | None = None, clock: Clock = time.monotonic, open_store: bool = True,
                 show_conversations: bool | None = None, frame_interval: float | None = None,
                 cursor_blink: bool = True) -> None:
        super().__init__()
        self.cursor_blink = cursor_blink
        if session is None:
            from salon.api import Session

            session = Session()
        config = session.config
        self.session = session
        self.agent = session.agent(agent_id)
        self.model = model
        self.data_dir = data_dir or config.resolved_data_dir()
        self._open_store = open_store
        self._show_conversations = show_conversations
        self.services = Services(session, Palette.from_variables("", {}, True), clock=clock,
                                 follow=config.follow, show_thinking=config.show_thinking)
        if frame_interval is not None:
            self.services.frame_interval = frame_interval
        self._startup_warnings = [*config.warnings, *(str(e) for e in session.catalog.errors)]
        if agent_id is None and session.default_agent_warning:
            self._startup_warnings.append(session.default_agent_warning)
        self._install_themes(config.theme)

    def _install_themes(self, selected: str) -> None:
        try:
            from salon.tui.themes import load_themes

            self._startup_warnings += load_themes().install(self, selected)
        except Exception as error:  # a broken theme folder must not keep the chat from opening
            self._startup_warnings.append(f"themes: {error}")

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every notification, whoever raises it, as plain text.

        They quote what Salon does not control (an agent's name, a server's error, a file's contents, a
        conversation's title): read as markup, ``[/]`` crashed the app and ``[@click=…]`` ran an action.
        """
        from salon.tui.plain import safe_text

        super().notify(safe_text(message), title=safe_text(title), severity=severity, timeout=timeout,
                       markup=False)

    def get_css_variables(self) -> dict[str, str]:
        from salon.tui.themes import with_salon_variables

        self.theme_variables = with_salon_variables(super().get_css_variables())
        return self.theme_variables

    # -- start-up -------------------------------------------------------------------------------------------

    def get_default_screen(self) -> Screen:
        from salon.tui.screens.chat import ChatScreen

        show = self._show_conversations
        if show is None:
            show = self.size.width >= SIDEBAR_MIN_WIDTH
        return ChatScreen(self.services, self.agent, self.model, show_conversations=show)

    def on_mount(self) -> None:
        self._handle_signals()
        self._update_palette()
        self.theme_changed_signal.subscribe(self, lambda _theme: self._theme_changed())
        self._startup_warnings += self.install_user_keymap()
        for warning in self._startup_warnings:
            self.notify(warning, severity="warning", timeout=10)

    def after_first_frame(self) -> None:
        """Called by the chat screen once it has been drawn: now the slow work (database, Ollama host)."""
        if self.services.quitting:  # closed as the first frame appeared (a closed terminal): the screens are going
            return
        if self._open_store:
            self.open_store()
        chat = self.chat_screen
        chat.store_ready()
        chat.check_connection()

    def open_store(self) -> None:
        from salon.config.secrets import secret_values
        from salon.store import Store

        try:
            self.services.store = Store.open(self.data_dir, secrets=secret_values(self.session.config))
        except Exception as error:  # a StoreError (damaged, newer, read-only): chat on, unsaved, and say so
            self.services.store_problem = str(error)
            self.notify(f"{error}\nThis session's conversations will not be saved.", title="History unavailable",
                        severity="error", timeout=15)

    @property
    def chat_screen(self) -> ChatScreen:
        from salon.tui.screens.chat import ChatScreen

        for screen in self.screen_stack:
            if isinstance(screen, ChatScreen):
                return screen
        raise LookupError("the chat screen is not open")

    # -- theme -----------------------------------------------------------------------------------------------

    def _update_palette(self) -> None:
        variables = self.theme_variables or self.get_css_variables()
        self.services.palette = Palette.from_variables(self.theme, variables, self.current_theme.dark)

    def _theme_changed(self) -> None:
        self.get_css_variables()
        self._update_palette()
        try:
            chat = self.chat_screen
        except LookupError:
            return
        for view in chat.views():
            view.set_palette()

    # -- commands --------------------------------------------------------------------------------------------

    def salon_commands(self) -> Iterable[Command]:
        """The chat's entries in the command palette; extend this (or :data:`CHAT_COMMANDS`) to add more."""
        return CHAT_COMMANDS

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's "Theme" entry is replaced by Salon's, which saves the choice (see PreferencesMixin).
        yield from (c for c in super().get_system_commands(screen) if c.callback != self.action_change_theme)
        try:
            chat = self.chat_screen
        except LookupError:
            return
        for command in self.salon_commands():
            yield SystemCommand(command.title, command.help, _runner(chat, command.action))

    # -- closing ---------------------------------------------------------------------------------------------

    _SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)

    def get_driver_class(self) -> type[Driver]:
        driver = super().get_driver_class()
        from textual.drivers.linux_driver import LinuxDriver

        if driver is LinuxDriver:  # not one named by TEXTUAL_DRIVER
            from salon.tui.hangup import SalonDriver

            return SalonDriver
        return driver

    def _handle_signals(self) -> None:
        """SIGTERM (a shutdown, `kill`), SIGHUP (the terminal closed) and SIGINT (`kill -INT`; Ctrl+C is a key
        here) end the app as a quit does: the partial reply saved as interrupted and the terminal restored
        (alternate screen left, mouse off, cursor shown), then exit 128 + the signal's number, as a process killed
        by it would report. Without its own handler, SIGINT cancelled asyncio's main task: exit 0, nothing saved."""
        loop = asyncio.get_running_loop()
        for signum in self._SIGNALS:
            with suppress(NotImplementedError, RuntimeError, ValueError):  # not on this platform or thread
                loop.add_signal_handler(signum, self._signalled, signum)

    def _signalled(self, signum: int) -> None:
        if not self.services.quitting:  # a closed terminal sends SIGHUP and fails a write: the first one ends it
            self.services.quitting = True
            self.call_later(self.close_all, 128 + signum)

    def terminal_lost(self) -> None:
        """The terminal stopped taking output (see :mod:`salon.tui.hangup`): end as on SIGHUP, which may never
        come (a process started under ``nohup``)."""
        self._signalled(signal.SIGHUP)

    async def action_quit(self) -> None:
        await self.close_all(0)

    async def close_all(self, code: int) -> None:
        """Stop every streaming reply (saved as interrupted, within :data:`QUIT_GRACE`) and exit with ``code``."""
        self.services.quitting = True
        # Replies still streaming end as interrupted, with their text saved, before the app goes.
        try:
            chat = self.chat_screen
        except LookupError:
            chat = None
        stopped = [view.cancel() for view in chat.views()] if chat is not None else []
        if any(stopped):
            from textual.worker import WorkerCancelled, WorkerFailed

            # A reply's worker may end cancelled (or failed) rather than complete; either way it has ended, and
            # the exit status stays the one asked for (a 10 MB reply in flight once turned SIGINT's 130 into 1).
            with suppress(TimeoutError, WorkerCancelled, WorkerFailed):
                await asyncio.wait_for(self.workers.wait_for_complete(), QUIT_GRACE)
        self.exit(code, return_code=code)

    async def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in self._SIGNALS:  # the loop may outlive the app (tests run several on one)
            with suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)
        await self.session.aclose()
        if self.services.store is not None:
            self.services.store.close()


def _runner(screen: ChatScreen, action: str):
    async def run() -> None:
        await screen.run_action(action)

    return run


def launch(agent_id: str | None = None, model: str | None = None, data_dir: Path | None = None) -> int:
    """Open the chat app (``salon`` with no command); returns the exit status."""
    from salon.api import Session

    session = Session()
    session.agent(agent_id)  # an unknown agent fails here, before any window
    session.config.resolved_ollama_host()  # and so does a malformed OLLAMA_HOST, as one line naming it
    app = SalonApp(session, agent_id=agent_id, model=model, data_dir=data_dir)
    app.run()
    return app.return_code or 0

"""What every part of the TUI shares: the Salon session, the clock, the store (once open) and display settings."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from salon.tui.rendering import Palette

if TYPE_CHECKING:
    from textual.message_pump import MessagePump

    from salon.agents.definition import Agent
    from salon.api import ChatMessage, Session
    from salon.runner.run import Run
    from salon.store import Store

Clock = Callable[[], float]


@dataclass(slots=True)
class Services:
    """Mutable on purpose: the store opens after the first frame, and the palette changes with the theme."""

    session: Session
    palette: Palette
    clock: Clock = time.monotonic
    store: Store | None = None
    store_problem: str | None = None
    follow: bool = True
    show_thinking: bool = False
    frame_interval: float = 1 / 12
    quitting: bool = False
    """Set as the app begins to close (a quit, a signal, a lost terminal): it ends once, nothing new starts, and
    replies still end (and are saved) as interrupted, but nothing more is drawn."""

    def agent(self, agent_id: str) -> Agent:
        return self.session.agent(agent_id)

    def start_run(self, agent: Agent, model: str | None, history: Sequence[ChatMessage]) -> Run:
        """A run of ``agent`` on ``history`` (which already ends with the prompt, as the store keeps it).

        The injected clock times it, so the figures on screen (elapsed, tok/s) are the same on every test run.
        """
        return self.session.run(agent, None, history=history, model=model, clock=self.clock)


@runtime_checkable
class SalonApp(Protocol):
    """What screens ask of Salon's app (:class:`salon.tui.app.SalonApp` is the one): a protocol, so a screen the app
    imports never imports the app back."""

    cursor_blink: bool

    def after_first_frame(self) -> None: ...
    def remember_setting(self, key: str, value: Any) -> None: ...
    async def save_settings(self, changes: Mapping[str, Any]) -> bool: ...


def salon_app(node: MessagePump) -> SalonApp:
    """The app ``node`` runs in, typed: screens call the app's own methods by name, never through ``getattr``."""
    app = node.app
    if not isinstance(app, SalonApp):
        raise TypeError(f"{type(node).__name__} runs only inside Salon's app, not {type(app).__name__}")
    return app

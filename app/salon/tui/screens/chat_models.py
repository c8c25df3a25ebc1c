"""The chat screen's view of the model server: is it answering, has it the model, which model the next reply uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from salon.errors import SalonError
from salon.tui.widgets.banner import Banner, unreachable_text

if TYPE_CHECKING:
    from salon.api import ModelInfo
    from salon.tui.screens.chat_host import ChatHost
    from salon.tui.widgets.chat_view import ChatView
    from salon.tui.widgets.status import Connection


class ModelAvailability:
    """The chat screen's part that knows the model server: connection state, its models, the model picker."""

    def __init__(self, screen: ChatHost) -> None:
        self.screen = screen
        self.connection: Connection = "unknown"
        self.models: list[ModelInfo] | None = None
        """The Ollama host's models, once it has answered."""

    def uses_ollama(self, view: ChatView) -> bool:
        return self.screen.services.session.needs_host(self.models_of(view))

    @staticmethod
    def models_of(view: ChatView) -> list[str]:
        return [view.model_override] if view.model_override else list(view.agent.models)

    async def check(self) -> bool:
        """Ask the Ollama host for its models: tells the status line whether it answers."""
        if not self.uses_ollama(self.screen.view):
            return True
        self.set_connection("checking")
        try:
            self.models = await self.screen.services.session.host_models()
        except SalonError as error:
            self.set_connection("down", str(error))
            return False
        self.set_connection("up")
        return True

    def set_connection(self, state: Connection, problem: str = "") -> None:
        screen = self.screen
        if not screen.is_attached:
            return  # the answer came after the app closed (a slow host on quit): nothing left to tell
        banners = screen.query(Banner)
        if not banners:
            return  # the app is closing and has already taken the screen's widgets away
        self.connection = state
        banner = banners.first()
        if state == "down":
            banner.show_problem(unreachable_text(screen.services.session.host))
        elif state == "up":
            banner.clear()
        screen.refresh_status()

    def missing_model(self, view: ChatView) -> str | None:
        if self.models is None:
            return None
        return self.screen.services.session.missing_model(self.models_of(view), self.models)

    def pick_model(self) -> None:
        from salon.tui.screens.model_picker import AGENT_DEFAULT, ModelPicker

        screen = self.screen
        view = screen.view

        def chosen(model: str | None) -> None:
            if model is None or not view.is_attached:
                return
            view.set_model(None if model == AGENT_DEFAULT else model)
            screen.refresh_status()
            screen.check_connection()
            screen.warm_cloud(view)

        screen.app.push_screen(ModelPicker(screen.services.session, view.model_override,
                                           ", ".join(view.agent.models)), chosen)

    async def warm_cloud(self, view: ChatView) -> None:
        """A cloud model was picked: import litellm now, off the event loop, so the first reply does not wait."""
        await self.screen.services.session.warm_up(self.models_of(view))

"""The chat screen's view of the model server: is it answering, has it the model, which model the next reply uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from salon.errors import SalonError
from salon.tui.widgets.banner import Banner, unreachable_text

if TYPE_CHECKING:
    from salon.api import ModelInfo
    from salon.tui.services import Services
    from salon.tui.widgets.chat_view import ChatView
    from salon.tui.widgets.status import Connection


class ModelAvailability:
    """Part of :class:`~salon.tui.screens.chat.ChatScreen`: connection state, the server's models, the model picker."""

    services: Services
    connection: Connection
    models: list[ModelInfo] | None

    def _uses_ollama(self, view: ChatView) -> bool:
        return self.services.session.needs_host(self._models_of(view))

    @staticmethod
    def _models_of(view: ChatView) -> list[str]:
        return [view.model_override] if view.model_override else list(view.agent.models)

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
        if not self.is_attached:
            return  # the answer came after the app closed (a slow host on quit): nothing left to tell
        banners = self.query(Banner)
        if not banners:
            return  # the app is closing and has already taken the screen's widgets away
        self.connection = state
        banner = banners.first()
        if state == "down":
            banner.show_problem(unreachable_text(self.services.session.host))
        elif state == "up":
            banner.clear()
        self._refresh_status()

    def _missing_model(self, view: ChatView) -> str | None:
        if self.models is None:
            return None
        return self.services.session.missing_model(self._models_of(view), self.models)

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

    def action_check_connection(self) -> None:
        self.check_connection()

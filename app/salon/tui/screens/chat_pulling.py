"""Offering, and running, the download of a model the server lacks; the prompt waiting for it is sent after."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from salon.errors import SalonError

if TYPE_CHECKING:
    from salon.tui.services import Services
    from salon.tui.widgets.chat_view import ChatView


class Pulling:
    """Part of :class:`~salon.tui.screens.chat.ChatScreen`: the pull dialog and its progress bar."""

    services: Services

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

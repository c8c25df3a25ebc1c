"""Offering, and running, the download of a model the server lacks; the prompt waiting for it is sent after."""

from __future__ import annotations

from typing import TYPE_CHECKING

from salon.errors import SalonError

if TYPE_CHECKING:
    from salon.tui.screens.chat_host import ChatHost
    from salon.tui.widgets.chat_view import ChatView


class Pulling:
    """The chat screen's part that pulls models: the pull dialog and its progress bar."""

    def __init__(self, screen: ChatHost) -> None:
        self.screen = screen

    def offer(self, model: str, view: ChatView, prompt: str | None) -> None:
        from salon.tui.screens.confirm import ConfirmScreen

        screen = self.screen
        host = screen.services.session.host

        def answered(yes: bool | None) -> None:
            if yes:
                screen.pull(model, view, prompt)

        screen.app.push_screen(ConfirmScreen(
            f"{model} is not on {host}",
            f"Download it now? Ollama will pull '{model}' (this can take a while for large models). "
            "Your prompt is kept and sent once the model is there.",
            yes="Pull", no="Not now"), answered)

    async def pull(self, model: str, view: ChatView, prompt: str | None) -> None:
        from salon.tui.widgets.pull_progress import PullProgress

        screen = self.screen
        # Mounted on first use: most sessions never pull.
        existing = screen.query(PullProgress)
        if existing:
            progress = existing.first()
        else:
            progress = PullProgress(id="pull")
            await screen.query_one("#chat").mount(progress, before=screen.composer)
        progress.start(model)
        try:
            async for update in screen.services.session.pull(model):
                progress.show(update.status, update.completed, update.total)
        except SalonError as error:
            screen.notify(str(error), title=f"Could not pull {model}", severity="error", timeout=10)
            return
        finally:
            progress.stop()
        screen.notify(f"{model} is ready.", title="Pulled")
        await screen.check_connection().wait()
        if prompt and view.is_attached:
            if view is screen.view and screen.composer.text == prompt:
                await screen.sending.send(prompt)
            else:
                await view.submit(prompt)

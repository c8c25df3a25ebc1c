"""Sending from the composer: the checks before a prompt goes, editing the last prompt, stopping, and failures."""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING

from textual.worker import WorkerCancelled, WorkerFailed

from salon.errors import ModelNotFound, ServerUnreachable

if TYPE_CHECKING:
    from salon.tui.screens.chat_host import ChatHost
    from salon.tui.widgets.chat_view import ChatView

EDITING_TITLE = "Editing your last prompt · Enter resends it · Esc cancels"


class Sending:
    """The chat screen's part between Enter and a reply starting; the screen routes its keys and messages here."""

    def __init__(self, screen: ChatHost) -> None:
        self.screen = screen

    async def send(self, text: str) -> bool:
        """Send ``text`` in the conversation on screen; the composer is cleared only once it is accepted."""
        screen = self.screen
        view = screen.view
        composer = screen.composer
        availability = screen.availability
        if availability.uses_ollama(view) and availability.connection != "up":
            worker = screen.check_connection()
            with suppress(WorkerCancelled, WorkerFailed):
                await worker.wait()
            if not worker.result:
                screen.notify("Ollama is not answering; your prompt is still in the box.", title="Not sent",
                              severity="error")
                return False
        missing = availability.missing_model(view)
        if missing is not None:
            screen.pulling.offer(missing, view, text)
            return False
        if composer.editing is not None:
            accepted = await view.resend_edited(composer.editing, text)
        else:
            accepted = await view.submit(text)
        if accepted:
            self.end_edit(clear=True)
        return accepted

    def failed(self, event: ChatView.Failed) -> None:
        """A run failed: give the prompt back, and offer what helps (a banner, a pull, the error)."""
        screen = self.screen
        view = event.view
        composer = screen.composer
        if event.prompt is not None and view is screen.view and not composer.text.strip():
            composer.text = event.prompt
            composer.move_cursor(composer.document.end)
        elif event.prompt is not None:
            view.draft = view.draft or event.prompt
        if isinstance(event.error, ServerUnreachable):
            screen.availability.set_connection("down", str(event.error))
            screen.notify("Ollama is not answering; your prompt is back in the box.", title="Not sent",
                          severity="error")
        elif isinstance(event.error, ModelNotFound):
            if model := screen.services.session.pullable_model(screen.availability.models_of(view)):
                screen.pulling.offer(model, view, None)
        else:
            screen.notify(str(event.error), title="The reply failed", severity="error", timeout=8)

    def stop(self) -> None:
        screen = self.screen
        view = screen.view
        composer = screen.composer
        if view.busy:
            queued = view.take_queued()
            view.cancel()
            if queued and not composer.text.strip():
                composer.text = queued
            return
        if composer.editing is not None:
            self.end_edit(clear=True)
            return
        if screen.focused is not composer:
            composer.focus()

    def edit_last(self) -> None:
        screen = self.screen
        view = screen.view
        if view.busy:
            screen.notify("Wait for the reply to finish, or press Esc to stop it.", severity="warning")
            return
        last = view.last_prompt()
        if last is None:
            screen.notify("There is no prompt to edit yet.", severity="warning")
            return
        composer = screen.composer
        composer.editing = last.id
        composer.text = last.text
        composer.move_cursor(composer.document.end)
        composer.border_title = EDITING_TITLE
        composer.add_class("-editing")
        composer.focus()

    def end_edit(self, *, clear: bool) -> None:
        composer = self.screen.composer
        if clear:
            composer.clear()
        composer.editing = None
        composer.border_title = None
        composer.remove_class("-editing")

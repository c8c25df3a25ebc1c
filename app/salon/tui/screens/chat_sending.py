"""Sending from the composer: the checks before a prompt goes, editing the last prompt, stopping, and failures."""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING

from textual.worker import WorkerCancelled, WorkerFailed

from salon.errors import ModelNotFound, ServerUnreachable
from salon.tui.widgets.chat_view import ChatView

if TYPE_CHECKING:
    from salon.tui.services import Services

EDITING_TITLE = "Editing your last prompt · Enter resends it · Esc cancels"


class Sending:
    """Part of :class:`~salon.tui.screens.chat.ChatScreen`: what happens between Enter and a reply starting."""

    services: Services

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

    def on_chat_view_failed(self, event: ChatView.Failed) -> None:
        """A run failed: give the prompt back, and offer what helps (a banner, a pull, the error)."""
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

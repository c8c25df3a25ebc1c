"""One open conversation: its log, its agent and model, the reply streaming into it and a prompt queued behind.

Each view consumes its own runs in its own worker group, so several conversations can stream at once while only
one is on screen. The only thing shared with the runner is the event stream.
"""

from __future__ import annotations

import asyncio
from time import perf_counter
from typing import TYPE_CHECKING

from textual.containers import Vertical
from textual.message import Message

from salon.errors import ModelNotFound, ProviderError, RunError, ServerUnreachable
from salon.events import (
    MessageCompleted,
    MessageCreated,
    MessageDelta,
    RequiresAction,
    RunCancelled,
    RunCompleted,
    RunFailed,
    StepCompleted,
    StepCreated,
    StepDelta,
    ToolsStarted,
    ToolsUnavailable,
)
from salon.messages import Message as StoredMessage
from salon.tui.widgets.chat_log import ChatLog
from salon.tui.widgets.live_message import LiveMessage
from salon.tui.widgets.message import FinalMessage, MessageBox, UserMessage
from salon.tui.widgets.tool_steps import ToolSteps
from salon.tui.widgets.welcome import Welcome

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from salon.agents.definition import Agent
    from salon.runner.run import Run
    from salon.store import Exchange
    from salon.tui.conversation import ConversationData
    from salon.tui.services import Services

YIELD_EVERY = 0.01
"""Seconds of back-to-back events after which the reply worker lets the rest of the app run."""

UNDO_ON_FAILURE: tuple[type[ProviderError], ...] = (ServerUnreachable, ModelNotFound)
"""Failures before any text where the prompt goes back to the composer instead of staying as a failed exchange."""


class ChatView(Vertical):
    """A conversation on screen (or streaming off screen)."""

    class Busy(Message):
        """A reply started or ended in this view."""

        def __init__(self, view: ChatView, busy: bool) -> None:
            super().__init__()
            self.view = view
            self.busy = busy

    class Failed(Message):
        """A run failed; the screen decides what to offer (a banner, a pull, a retry)."""

        def __init__(self, view: ChatView, error: RunError, prompt: str | None) -> None:
            super().__init__()
            self.view = view
            self.error = error
            self.prompt = prompt
            """The prompt handed back to the composer, when the exchange was undone."""

    class ToolActivity(Message):
        """A tool call of this view's run moved on: ``text`` says what is under way (empty: nothing)."""

        def __init__(self, view: ChatView, text: str) -> None:
            super().__init__()
            self.view = view
            self.text = text

    class StopRequested(Message):
        """Esc in a dialog over this view asked for the reply to stop, as Esc in the chat does."""

        def __init__(self, view: ChatView) -> None:
            super().__init__()
            self.view = view

    class Changed(Message):
        """The conversation was created, titled or given another agent: the list should show it."""

        def __init__(self, view: ChatView) -> None:
            super().__init__()
            self.view = view

    def __init__(self, services: Services, data: ConversationData, agent: Agent, model: str | None = None,
                 *, id: str | None = None) -> None:
        super().__init__(id=id, classes="chat-view")
        self.services = services
        self.data = data
        self.agent = agent
        self.model_override = model
        self.draft = ""
        """What the composer held when the user switched away from this conversation."""
        self._run: Run | None = None
        self._tools: ToolSteps | None = None
        self._queued: tuple[str, UserMessage] | None = None
        self._welcome = Welcome(agent, model, id="welcome")
        self._store_warned = False
        self._around: tuple[int, str] | None = None

    def compose(self) -> ComposeResult:
        yield ChatLog(self.data, self._widget_for, self._welcome, follow=self.services.follow, id="log")

    async def on_mount(self) -> None:
        if self._around is not None:
            await self.chat_log.show_around(*self._around)
        elif self.data.count():
            await self.chat_log.show_latest()

    async def show_message(self, index: int, message_id: str) -> None:
        """Show (and select) the message at about ``index``: now if mounted, else as soon as it is."""
        if self.is_mounted:
            await self.chat_log.show_around(index, message_id)
        else:
            self._around = (index, message_id)

    @property
    def chat_log(self) -> ChatLog:
        return self.query_one(ChatLog)

    @property
    def busy(self) -> bool:
        return self._run is not None

    @property
    def model(self) -> str:
        """The model the next reply is asked of (an override, else the agent's own)."""
        return self.model_override or ", ".join(self.agent.models)

    @property
    def queued(self) -> str | None:
        return self._queued[0] if self._queued else None

    def _widget_for(self, record: StoredMessage) -> MessageBox:
        if record.role == "user":
            return UserMessage(record)
        return FinalMessage(record, self.services.palette, show_thinking=self.services.show_thinking)

    # -- what the user does ------------------------------------------------------------------------------------

    async def submit(self, text: str) -> bool:
        """Send ``text``, or queue it behind a streaming reply; False when refused (the composer keeps it)."""
        if self.busy:
            if self._queued is not None:
                self.notify("A prompt is already queued behind this reply. Esc stops the reply.",
                            title="Not sent", severity="warning")
                return False
            widget = UserMessage(StoredMessage("queued", "", "user", text), queued=True)
            self._queued = (text, widget)
            await self.chat_log.append(widget, record=False)
            self.notify("Queued: it is sent when the current reply ends.", title="Reply in progress")
            return True
        return await self._send(text)

    async def _send(self, text: str, widget: UserMessage | None = None) -> bool:
        if widget is None:
            await self.chat_log.ensure_tail()
        exchange = self.data.exchange(self._keep_unsaved)
        try:
            record = self.data.add_user(text, exchange)
        except Exception as error:  # a StoreError (read-only, deleted, full): chat on unsaved, and say so
            if not self.data.saved:
                raise
            self._keep_unsaved(error)
            exchange = self.data.exchange(self._keep_unsaved)
            record = self.data.add_user(text, exchange)
        self.post_message(self.Changed(self))
        if widget is not None:
            self.chat_log.adopt(widget, record)
        else:
            await self.chat_log.append(UserMessage(record))
        self.chat_log.stick_to_bottom()
        self._launch(exchange)
        return True

    def _launch(self, exchange: Exchange) -> None:
        run = self.services.start_run(self.agent, self.model_override, self.data.history())
        self._run = run
        self.chat_log.keep_tail = True
        self.post_message(self.Busy(self, True))
        # Not exclusive: a view never starts a run while one is going (see busy), and cancelling a run is
        # run.cancel(), which keeps its partial text, never a worker cancel.
        self.run_worker(self._consume(run, exchange), group="reply", exit_on_error=False, name=f"reply {run.id}")

    def cancel(self) -> bool:
        """Stop the streaming reply (its partial text stays, marked interrupted); a queued prompt comes back."""
        if self._run is None:
            return False
        self._run.cancel()
        if self._tools is not None and (note := self._tools.stop_note()):
            self.notify(note, title="Reply stopped", severity="warning", timeout=8)
        return True

    def tool_activity(self, text: str) -> None:
        """Tell the screen what tool call of this view's run is under way (``text`` empty: none)."""
        self.post_message(self.ToolActivity(self, text))

    def stop_reply(self) -> None:
        """Esc in the approval dialog: the reply stops as with Esc in the chat (and a queued prompt comes back)."""
        self.post_message(self.StopRequested(self))

    def take_queued(self) -> str | None:
        """Withdraw the queued prompt (Esc): it goes back to the composer instead of being sent."""
        if self._queued is None:
            return None
        text, widget = self._queued
        self._queued = None
        widget.remove()
        return text

    async def regenerate(self) -> bool:
        """Ask for the last reply again (after a failure: the retry), replacing it."""
        if self.busy:
            self.notify("Wait for the reply to finish, or press Esc to stop it.", severity="warning")
            return False
        await self.chat_log.ensure_tail()
        user, replies = self.data.last_exchange()
        if user is None:
            self.notify("There is no reply to regenerate yet.", severity="warning")
            return False
        await self._forget(replies)
        self.chat_log.stick_to_bottom()
        self._launch(self.data.exchange(self._keep_unsaved))
        return True

    def last_prompt(self) -> StoredMessage | None:
        user, _ = self.data.last_exchange()
        return user

    async def resend_edited(self, message_id: str, text: str) -> bool:
        """Replace the last prompt (and the replies to it) by an edited one, and send that."""
        if self.busy:
            self.notify("Wait for the reply to finish, or press Esc to stop it.", severity="warning")
            return False
        await self.chat_log.ensure_tail()
        user, replies = self.data.last_exchange()
        if user is not None and user.id == message_id:
            await self._forget([user, *replies])
        return await self._send(text)

    async def _forget(self, records: list[StoredMessage]) -> None:
        if not records:
            return
        if self._store_call(self.data.delete, records, default=False) is False:
            return
        ids = {r.id for r in records}
        widgets = [w for w in self.chat_log.records() if w.message_id in ids]
        await self.chat_log.drop(widgets, records=len(widgets))

    def set_agent(self, agent: Agent) -> None:
        self.agent = agent
        self._store_call(self.data.set_agent, agent.id)
        self._welcome.show_agent(agent, self.model_override)
        self.post_message(self.Changed(self))

    def set_model(self, model: str | None) -> None:
        """Answer this conversation with ``model`` (None: the agent's own) from now on, and store that with it."""
        self.model_override = model
        self._store_call(self.data.set_model, model)
        self._welcome.show_agent(self.agent, model)

    def set_palette(self) -> None:
        for message in self.query(FinalMessage):
            message.set_palette(self.services.palette)
        for live in self.query(LiveMessage):
            live.set_palette(self.services.palette)

    # -- the reply -------------------------------------------------------------------------------------------

    async def _consume(self, run: Run, exchange: Exchange) -> None:
        live: LiveMessage | None = None
        failure: RunFailed | None = None
        completed: list[StoredMessage] = []
        tools = self._tools = ToolSteps(self, run)
        end: object = None
        since_yield = perf_counter()
        try:
            async for event in run:
                # Saved before it is shown; a failing disk stops only the saving (see _keep_unsaved).
                exchange.record(event)
                if type(event) is MessageDelta:
                    # The hot path: one list append per token, nothing drawn.
                    if live is not None:
                        live.feed(event.text, event.thinking)
                    if perf_counter() - since_yield > YIELD_EVERY:
                        # Tokens already buffered arrive without a wait: let key presses and frames in.
                        await asyncio.sleep(0)
                        since_yield = perf_counter()
                    continue
                if isinstance(event, MessageCreated):
                    live = LiveMessage(event, self.services.clock, self.services.palette,
                                       frame_interval=self.services.frame_interval)
                    await self.chat_log.append(live, record=False)
                elif isinstance(event, StepCreated | StepDelta | RequiresAction | ToolsStarted | StepCompleted):
                    await tools.handle(event)
                elif isinstance(event, ToolsUnavailable):
                    self.app.notify(event.notice, title="Tools unavailable", severity="warning", timeout=15)
                elif isinstance(event, MessageCompleted):
                    record = self.data.completed(event)
                    completed.append(record)
                    # Quitting: the reply is saved; drawing its final form (a 10 MB reply takes seconds) is skipped.
                    if live is not None and not self.services.quitting:
                        await live.finish()
                        final = FinalMessage(record, self.services.palette, settled=live.settled,
                                             show_thinking=self.services.show_thinking, chunks=event.reply.chunks)
                        await self._render_ahead(final, live.content_size.width)
                        await self.chat_log.replace(live, final)
                        live = None
                elif isinstance(event, RunFailed):
                    failure = event
                    end = event
                elif isinstance(event, RunCancelled | RunCompleted):
                    end = event
        except asyncio.CancelledError:
            # The view is going away (app closing): stop the provider too, and keep what the exchange has.
            run.cancel()
            raise
        finally:
            tools.ended(end)
            self._tools = None
            exchange.finish()
            self._run = None
            self.chat_log.keep_tail = False
            self.post_message(self.Busy(self, False))
        if failure is not None:
            await self._failed(failure, completed)
        if self._queued is not None:
            text, widget = self._queued
            self._queued = None
            # From outside this worker, which is about to end.
            self.call_later(self._send, text, widget)

    async def _render_ahead(self, final: FinalMessage, width: int) -> None:
        """Render the final message's chunks before it is mounted, pausing between them.

        A long reply that arrived faster than frames (nothing settled yet) is drawn here a chunk at a time, so
        key presses are handled in between instead of waiting for one long render inside the layout.
        """
        if width <= 0:
            return
        console = self.app.console
        for markdown in final.markdowns:
            for part in markdown.parts:
                part.lines(console, width)
                await asyncio.sleep(0)

    async def _failed(self, failure: RunFailed, completed: list[StoredMessage]) -> None:
        prompt: str | None = None
        nothing_arrived = all(not r.text for r in completed)
        if isinstance(failure.exception, UNDO_ON_FAILURE) and nothing_arrived:
            # Nothing was said: undo the exchange so the prompt can go back to the composer without a duplicate.
            user, replies = self.data.last_exchange()
            if user is not None:
                await self._forget([user, *replies])
                prompt = user.text
                self._drop_empty_conversation()
        self.post_message(self.Failed(self, failure.exception, prompt))

    def _drop_empty_conversation(self) -> None:
        store, conversation_id = self.data.store, self.data.conversation_id
        if conversation_id is not None and self.data.count() == 0:
            self._store_call(store.delete_conversation, conversation_id)
            self.data.conversation_id = None
            self.data.title = ""
            self.post_message(self.Changed(self))

    # -- the store, whose failures must never stop the chat --------------------------------------------------

    def _store_call(self, function, *args, default=None):
        try:
            return function(*args)
        except Exception as error:  # StoreError and sqlite3 errors alike
            if not self.data.saved:
                raise
            self._warn_store(error)
            return default

    def _keep_unsaved(self, error: Exception) -> None:
        """Saving failed: this conversation goes on in memory, and the status line says it is not being saved."""
        self.data.keep_in_memory()
        self.services.store_problem = str(error)
        self._warn_store(error)
        self.post_message(self.Changed(self))

    def _warn_store(self, error: Exception) -> None:
        if not self._store_warned:
            self._store_warned = True
            self.notify(f"Saving failed: {error}\nThe chat goes on; this conversation is kept until Salon closes, "
                        "not saved.", title="Conversation not saved", severity="error", timeout=10)

"""One exchange, saved the same way by every face: the prompt first, then the run that answers it.

    exchange = Exchange(store, conversation_id, agent_id="socrates", on_stop=warn)
    exchange.write_prompt(prompt)                  # committed before anything is sent
    async for event in exchange.follow(session.run("socrates", None, history=exchange.history())):
        ...                                        # the face shows the event; the exchange has saved it

The exchange is driven by the event stream alone, so the TUI, ``salon ask`` and ``salon serve`` keep the same
things: checkpoints while the reply streams, the final text over them, and — when the disk fails mid-reply —
the reply still delivered, saving stopped and the user told once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterable, Callable
from typing import TYPE_CHECKING

from salon.store.errors import StoreError

if TYPE_CHECKING:
    from salon.events import Event
    from salon.messages import ChatMessage
    from salon.store.database import Store
    from salon.store.models import StoredMessage
    from salon.store.recorder import Recorder


class Exchange:
    """A prompt and its run in one conversation of ``store`` (or of nothing: then it saves nothing).

    ``conversation_id`` None means a new conversation, created by :meth:`write_prompt`. ``on_stop`` is called
    once, with the error, when saving stops part-way; the run itself is never stopped by the store.
    """

    def __init__(self, store: Store | None, conversation_id: str | None = None, *, agent_id: str = "",
                 model: str | None = None, on_stop: Callable[[StoreError], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.conversation_id = conversation_id
        self.agent_id = agent_id
        self.model = model
        """The model picked for a new conversation (stored with it); None: its agent's own."""
        self._on_stop = on_stop
        self._clock = clock
        self._recorder: Recorder | None = None
        self._stopped: StoreError | None = None

    @property
    def saving(self) -> bool:
        """Whether what the run says is still being saved."""
        return self.store is not None and self._stopped is None

    @property
    def stopped(self) -> StoreError | None:
        """Why saving stopped part-way, if it did."""
        return self._stopped

    def history(self) -> list[ChatMessage]:
        """What the model is sent to continue this conversation (see :func:`salon.store.history.sent_to_model`)."""
        if self.store is None or self.conversation_id is None:
            return []
        return self.store.history(self.conversation_id)

    def write_prompt(self, text: str) -> StoredMessage:
        """Keep the prompt, committed, before it is sent; a new conversation is created for the first one.

        Raises :class:`StoreError`: whether to go on unsaved is the face's call (``salon ask`` answers anyway,
        the TUI keeps the prompt in the composer).
        """
        if self.store is None:
            raise StoreError("no conversation database is open")
        if self.conversation_id is None:
            self.conversation_id = self.store.create_conversation(self.agent_id, model=self.model).id
        return self.store.add_user_message(self.conversation_id, text)

    def record(self, event: Event) -> None:
        """Save what ``event`` changes: a reply begun, streamed text (checkpointed), a reply finished."""
        if self.store is None or self._stopped is not None:
            return
        try:
            self._recorder_now().handle(event)
        except StoreError as error:
            self._stop(error)

    def finish(self) -> None:
        """Write whatever streamed since the last checkpoint (the run ended, was cancelled, or the face quits)."""
        if self._recorder is None or self._stopped is not None:
            return
        try:
            self._recorder.flush()
        except StoreError as error:
            self._stop(error)

    async def follow(self, events: AsyncIterable[Event]) -> AsyncGenerator[Event]:
        """Every event of ``events``, each saved before it is passed on; :meth:`finish` at the end."""
        try:
            async for event in events:
                self.record(event)
                yield event
        finally:
            self.finish()

    def move_to(self, store: Store) -> None:
        """Go on saving into ``store`` after saving stopped (a face's in-memory store, which holds the conversation
        as it stood): what the run said meanwhile is written there too, and saving resumes."""
        self.store = store
        self._stopped = None
        if self._recorder is not None:
            try:
                self._recorder.move_to(store)
            except StoreError as error:
                self._stop(error)

    def _recorder_now(self) -> Recorder:
        if self._recorder is None:
            assert self.store is not None
            if self.conversation_id is None:
                raise StoreError("the exchange has no conversation: write the prompt first")
            self._recorder = self.store.recorder(self.conversation_id, self._clock)
        return self._recorder

    def _stop(self, error: StoreError) -> None:
        # Once: the reply goes on being shown; only saving stops, and the user is told that a single time.
        self._stopped = error
        if self._on_stop is not None:
            self._on_stop(error)

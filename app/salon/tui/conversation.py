"""One conversation's messages as the chat view needs them, read from and written to its store.

The store is the database, or — when none could be opened, or saving failed (a read-only disk, a deleted file, a
database from a newer Salon) — an in-memory one with the same interface (:mod:`salon.store.memory`): one write
path, one history rule, and the same messages on screen either way. Then nothing is saved, and the status line says
so.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from salon.events import MessageCompleted
    from salon.messages import ChatMessage, Message
    from salon.store import Exchange, Store, StoreError


class ConversationData:
    """Messages of one conversation, oldest first; a conversation row is created only at the first prompt.

    ``store`` None means no database opened: an in-memory store is made at the first prompt (not before, so the
    window opens without loading SQLite).
    """

    def __init__(self, store: Store | None, agent_id: str, conversation_id: str | None = None,
                 title: str = "", model: str | None = None) -> None:
        self._store = store
        self.agent_id = agent_id
        self.model = model
        """The model picked for this conversation (stored with it), or None for its agent's own."""
        self.conversation_id = conversation_id
        self.title = title

    @property
    def store(self) -> Store:
        if self._store is None:
            from salon.store.memory import memory_store

            self._store = memory_store()
        return self._store

    @property
    def saved(self) -> bool:
        """Whether what is said here lasts (the store is the database, not memory)."""
        return self._store is not None and self._store.persistent

    def adopt(self, store: Store | None) -> None:
        """The database opened after this (still empty) conversation was made: keep it there from now on."""
        if store is not None and self.conversation_id is None:
            self._store = store

    def keep_in_memory(self) -> None:
        """Saving failed (a read-only or deleted database): go on in memory from what the store holds of this
        conversation, so the chat continues and nothing on screen is lost. A reply still streaming is left out
        here: its run writes it into the new store whole."""
        if not self.saved:
            return
        from salon.store import Conversation
        from salon.store.memory import copy_of

        fallback = None
        if self.conversation_id is not None:
            fallback = Conversation(self.conversation_id, self.title, self.agent_id, 0.0, 0.0, 0, self.model)
        self._store = copy_of(self.store, self.conversation_id, fallback)

    # -- reading ---------------------------------------------------------------------------------------------

    def count(self) -> int:
        if self.conversation_id is None:
            return 0
        return self.store.message_count(self.conversation_id)

    def page(self, offset: int, limit: int) -> Sequence[Message]:
        if self.conversation_id is None or limit <= 0:
            return []
        return self.store.messages(self.conversation_id, offset=offset, limit=limit)

    def history(self) -> list[ChatMessage]:
        """What the model is sent (the one rule and builder, :func:`salon.messages.history`)."""
        if self.conversation_id is None:
            return []
        return self.store.history(self.conversation_id)

    def last_exchange(self, window: int = 50) -> tuple[Message | None, list[Message]]:
        """The last prompt and the replies after it (a multi-step agent writes several)."""
        total = self.count()
        tail = list(self.page(max(0, total - window), window))
        for index in range(len(tail) - 1, -1, -1):
            if tail[index].role == "user":
                return tail[index], tail[index + 1:]
        return None, tail

    # -- writing ---------------------------------------------------------------------------------------------

    def exchange(self, on_stop: Callable[[StoreError], None]) -> Exchange:
        """The exchange that saves the next prompt and run. Should saving fail part-way, ``on_stop`` is told and the
        exchange goes on into the in-memory store this conversation then continues in."""
        from salon.store import Exchange

        def stopped(error: StoreError) -> None:
            on_stop(error)
            self.keep_in_memory()
            if exchange.store is not self.store:
                exchange.move_to(self.store)

        exchange = Exchange(self.store, self.conversation_id, agent_id=self.agent_id, model=self.model,
                            on_stop=stopped)
        return exchange

    def add_user(self, text: str, exchange: Exchange) -> Message:
        """Keep the prompt (through ``exchange``: committed) before it is sent."""
        stored = exchange.write_prompt(text)
        self.conversation_id = exchange.conversation_id
        if not self.title:
            self.title = self.store.conversation(stored.conversation_id).title
        return stored

    def completed(self, event: MessageCompleted) -> Message:
        """A reply finished: as the exchange has stored it (or, deleted meanwhile, as the run ended it)."""
        from salon.messages import Message
        from salon.store import MessageNotFound

        try:
            return self.store.message(event.message_id)
        except MessageNotFound:
            return Message.completed(event, self.conversation_id or "")

    def delete(self, messages: Sequence[Message]) -> None:
        from salon.store import MessageNotFound

        for message in messages:
            with contextlib.suppress(MessageNotFound):  # never kept (deleted while it streamed): nothing to remove
                self.store.delete_message(message.id)

    def set_agent(self, agent_id: str) -> None:
        self.agent_id = agent_id
        if self.conversation_id is not None:
            self.store.set_conversation_agent(self.conversation_id, agent_id)

    def set_model(self, model: str | None) -> None:
        self.model = model
        if self.conversation_id is not None:
            self.store.set_conversation_model(self.conversation_id, model)

"""One conversation's messages as the chat view needs them: kept in the store, or in memory when none opened.

The view asks this object, never SQLite, so the chat works the same whether or not the database could be opened
(a read-only disk, a database from a newer Salon): then nothing is saved, and the status line says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from itertools import count
from typing import TYPE_CHECKING

from salon.api import ChatMessage
from salon.events import MessageCompleted
from salon.tui.records import MessageRecord, TextPart, ToolPart

if TYPE_CHECKING:
    from salon.store import Exchange, Store, StoreError


class ConversationData:
    """Messages of one conversation, oldest first; a conversation row is created only at the first prompt."""

    def __init__(self, store: Store | None, agent_id: str, conversation_id: str | None = None,
                 title: str = "", model: str | None = None) -> None:
        self.store = store
        self.agent_id = agent_id
        self.model = model
        """The model picked for this conversation (stored with it), or None for its agent's own."""
        self.conversation_id = conversation_id
        self.title = title
        self._memory: list[MessageRecord] = []
        self._ids = count(1)

    @property
    def saved(self) -> bool:
        return self.store is not None

    def keep_in_memory(self) -> None:
        """Saving failed (a read-only or deleted database): go on in memory from what the store holds of this
        conversation, so the chat continues and nothing on screen is lost. A reply still streaming is left out: it
        arrives whole when it completes."""
        store, conversation_id = self.store, self.conversation_id
        if store is None:
            return
        records: list[MessageRecord] = []
        if conversation_id is not None:
            try:
                records = [MessageRecord.from_stored(m) for m in store.messages(conversation_id)
                           if m.status != "streaming"]
            except Exception:  # unreadable too: what is on screen stays there, only the history starts afresh
                records = []
        self._memory = records
        self.store = None

    # -- reading ---------------------------------------------------------------------------------------------

    def count(self) -> int:
        if self.store is None:
            return len(self._memory)
        if self.conversation_id is None:
            return 0
        return self.store.message_count(self.conversation_id)

    def page(self, offset: int, limit: int) -> Sequence[MessageRecord]:
        if self.store is None:
            return self._memory[offset:offset + limit]
        if self.conversation_id is None or limit <= 0:
            return []
        return [MessageRecord.from_stored(m)
                for m in self.store.messages(self.conversation_id, offset=offset, limit=limit)]

    def history(self) -> list[ChatMessage]:
        """What the model is sent (the store's one rule, :func:`salon.store.history.sent_to_model`)."""
        if self.store is not None and self.conversation_id is not None:
            return self.store.history(self.conversation_id)
        # Not at import: the window opens before the store loads.
        from salon.store.history import sent_to_model, with_tool_turns

        messages: list[ChatMessage] = []
        for r in self._memory:
            calls = r.tool_calls
            if sent_to_model(r.role, r.text, r.status, len(calls)):
                # A reply's tool calls and their results go back as the run sent them (the store's rule too).
                messages += with_tool_turns(ChatMessage(r.role, r.text), calls)  # type: ignore[arg-type]
        return messages

    def last_exchange(self, window: int = 50) -> tuple[MessageRecord | None, list[MessageRecord]]:
        """The last prompt and the replies after it (a multi-step agent writes several)."""
        total = self.count()
        tail = list(self.page(max(0, total - window), window))
        for index in range(len(tail) - 1, -1, -1):
            if tail[index].role == "user":
                return tail[index], tail[index + 1:]
        return None, tail

    # -- writing ---------------------------------------------------------------------------------------------

    def exchange(self, on_stop: Callable[[StoreError], None]) -> Exchange:
        """The exchange that saves the next prompt and run (saving nothing while no store is open)."""
        from salon.store import Exchange

        return Exchange(self.store, self.conversation_id, agent_id=self.agent_id, model=self.model, on_stop=on_stop)

    def add_user(self, text: str, exchange: Exchange) -> MessageRecord:
        """Keep the prompt (in the store, through ``exchange``: committed) before it is sent."""
        if self.store is None:
            record = MessageRecord.user(f"mem_{next(self._ids)}", text)
            self._memory.append(record)
            return record
        stored = exchange.write_prompt(text)
        self.conversation_id = exchange.conversation_id
        if not self.title:
            self.title = self.store.conversation(stored.conversation_id).title
        return MessageRecord.from_stored(stored)

    def completed(self, event: MessageCompleted) -> MessageRecord:
        """A reply finished (the exchange has stored it already when there is a store)."""
        record = MessageRecord.from_event(event)
        if self.store is None:
            self._memory.append(record)
        return record

    def tool_calls(self, message_id: str, calls: Sequence[ToolPart]) -> None:
        """The tool calls of a reply moved on. The exchange stores them; kept here only while nothing is saved, so
        a page mounted again still shows them."""
        if self.store is not None:
            return
        for index, record in enumerate(self._memory):
            if record.id == message_id:
                text = (TextPart(record.text),) if record.text else ()
                self._memory[index] = replace(record, parts=(*text, *calls))
                return

    def delete(self, records: Sequence[MessageRecord]) -> None:
        if self.store is None:
            gone = {r.id for r in records}
            self._memory = [r for r in self._memory if r.id not in gone]
            return
        for record in records:
            self.store.delete_message(record.id)

    def set_agent(self, agent_id: str) -> None:
        self.agent_id = agent_id
        if self.store is not None and self.conversation_id is not None:
            self.store.set_conversation_agent(self.conversation_id, agent_id)

    def set_model(self, model: str | None) -> None:
        self.model = model
        if self.store is not None and self.conversation_id is not None:
            self.store.set_conversation_model(self.conversation_id, model)

"""The one place the HTTP face touches the store: threads are Salon's conversations, runs are saved as they stream.

Prompts and runs are saved by :class:`salon.store.Exchange`, as the TUI and ``salon ask`` save theirs.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from salon.api import ChatMessage
from salon.config.read import Config
from salon.config.secrets import secret_values
from salon.store import Conversation, Exchange, Store, StoredMessage, StoreError


class Threads:
    """Conversations as threads. Every method is one short SQLite transaction, fine on the event loop."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @classmethod
    def open(cls, data_dir: Path, config: Config) -> Threads:
        """Raises :class:`StoreError` (damaged, newer, unwritable): without its database the server has no threads."""
        return cls(Store.open(data_dir, secrets=secret_values(config)))

    def close(self) -> None:
        self.store.close()

    @property
    def redact(self) -> Callable[[str], str]:
        return self.store.redact

    def recent(self, limit: int) -> list[Conversation]:
        return self.store.conversations(limit=limit)

    def get(self, thread_id: str) -> Conversation:
        """Raises :class:`salon.store.ConversationNotFound`."""
        return self.store.conversation(thread_id)

    def create(self, agent_id: str, prompts: Sequence[str] = ()) -> Conversation:
        """A thread with its first prompts, or nothing at all: a prompt that cannot be kept takes the thread away."""
        conversation = self.store.create_conversation(agent_id)
        try:
            for text in prompts:
                self.add_user_message(conversation.id, text)
        except BaseException:
            with contextlib.suppress(StoreError):
                self.store.delete_conversation(conversation.id)
            raise
        return self.store.conversation(conversation.id)

    def add_user_message(self, thread_id: str, text: str) -> StoredMessage:
        return Exchange(self.store, thread_id).write_prompt(text)

    def messages(self, thread_id: str, *, newest_first: bool, limit: int) -> list[StoredMessage]:
        self.store.conversation(thread_id)  # an unknown thread is an error, not an empty list
        if newest_first:
            return list(reversed(self.store.messages(thread_id, offset=-limit, limit=limit)))
        return self.store.messages(thread_id, limit=limit)

    def history(self, thread_id: str) -> list[ChatMessage]:
        return self.store.history(thread_id)

    def begin_run(self, thread_id: str, agent_id: str) -> Exchange:
        """Point the thread at the agent about to answer, and return the exchange that saves that run's events.

        A disk that fails is reported once; the run goes on, unsaved from then on.
        """
        conversation = self.store.conversation(thread_id)
        if conversation.agent_id != agent_id:
            self.store.set_conversation_agent(thread_id, agent_id)

        def stopped(error: StoreError) -> None:
            print(f"salon serve: the reply in thread {thread_id} is not being saved: {error}", file=sys.stderr)

        return Exchange(self.store, thread_id, agent_id=agent_id, on_stop=stopped)

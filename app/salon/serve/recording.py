"""The one place the HTTP face touches the store: threads are Salon's conversations, runs are saved as they stream.

Kept to this module so that saving can move to a shared "exchange" (a prompt and its run, saved the same way by
every face) without the routes changing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from salon.config import Config
from salon.events import Event
from salon.providers import ChatMessage
from salon.store import Conversation, Recorder, Store, StoredMessage, StoreError, secret_values


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

    def create(self, agent_id: str) -> Conversation:
        return self.store.create_conversation(agent_id)

    def add_user_message(self, thread_id: str, text: str) -> StoredMessage:
        return self.store.add_user_message(thread_id, text)

    def messages(self, thread_id: str, *, newest_first: bool, limit: int) -> list[StoredMessage]:
        self.store.conversation(thread_id)  # an unknown thread is an error, not an empty list
        if newest_first:
            return list(reversed(self.store.messages(thread_id, offset=-limit, limit=limit)))
        return self.store.messages(thread_id, limit=limit)

    def history(self, thread_id: str) -> list[ChatMessage]:
        return self.store.history(thread_id)

    def begin_run(self, thread_id: str, agent_id: str) -> RunSaver:
        """Point the thread at the agent about to answer, and return what saves that run's events."""
        conversation = self.store.conversation(thread_id)
        if conversation.agent_id != agent_id:
            self.store.set_conversation_agent(thread_id, agent_id)
        return RunSaver(self.store.recorder(thread_id), thread_id)


class RunSaver:
    """Saves one run as it streams. A disk that fails is reported once; the run goes on, unsaved from then on."""

    def __init__(self, recorder: Recorder, thread_id: str) -> None:
        self._recorder: Recorder | None = recorder
        self._thread_id = thread_id

    def __call__(self, event: Event) -> None:
        self._guard(lambda recorder: recorder.handle(event))

    def flush(self) -> None:
        self._guard(lambda recorder: recorder.flush())

    def _guard(self, action: Callable[[Recorder], None]) -> None:
        if self._recorder is None:
            return
        try:
            action(self._recorder)
        except StoreError as error:
            self._recorder = None
            print(f"salon serve: the reply in thread {self._thread_id} is not being saved: {error}",
                  file=sys.stderr)

"""A store that keeps conversations in memory only: the same :class:`Store`, on an SQLite database in memory.

A face that cannot save (a read-only or deleted database, one from a newer Salon) chats on in one of these, so it
has one write path and one history rule whether or not anything lasts.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from salon.store.connection import translated
from salon.store.database import Store
from salon.store.models import Conversation, StoredMessage
from salon.store.redact import Redactor
from salon.store.schema import migrate

MEMORY = Path(":memory:")


def memory_store(redactor: Redactor | None = None, now: Callable[[], float] = time.time) -> Store:
    """An empty store that lasts as long as the process."""
    with translated(MEMORY):
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, MEMORY)
    return Store(conn, MEMORY, redactor or Redactor(), now, persistent=False)


def copy_of(store: Store, conversation_id: str | None, fallback: Conversation | None = None) -> Store:
    """An in-memory store holding what ``store`` still gives of one conversation (a reply some writer is still
    streaming is left out: its run writes it whole); ``fallback`` stands for the conversation when ``store``
    cannot be read at all."""
    memory = memory_store(store.redact)
    if conversation_id is None:
        return memory
    conversation = fallback
    messages: Sequence[StoredMessage] = ()
    try:
        conversation = store.conversation(conversation_id)
        messages = [m for m in store.messages(conversation_id) if m.status != "streaming"]
    except Exception:  # unreadable too: what is on screen stays there, only the history starts afresh
        messages = ()
    if conversation is not None:
        memory.import_conversations([(conversation, messages)])
    return memory

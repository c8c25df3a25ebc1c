"""Conversations that last: the SQLite store, the recorder that saves runs as they stream, search.

    store = Store.open(config.resolved_data_dir())
    conversation = store.create_conversation("socrates")
    store.add_user_message(conversation.id, prompt)          # committed before the request is sent
    recorder = store.recorder(conversation.id)
    async for event in session.run("socrates", prompt, history=...):
        recorder.handle(event)
"""

from salon.store.connection import DATABASE_NAME
from salon.store.database import Store, title_from
from salon.store.errors import ConversationNotFound, DatabaseGone, DatabaseTooNew, MessageNotFound, StoreError
from salon.store.liveness import STALE_AFTER
from salon.store.models import Conversation, SearchHit, StoredMessage
from salon.store.recorder import CHECKPOINT_INTERVAL, Recorder
from salon.store.redact import REDACTED, Redactor, secret_values
from salon.store.schema import SCHEMA_VERSION

__all__ = [
    "CHECKPOINT_INTERVAL",
    "DATABASE_NAME",
    "REDACTED",
    "SCHEMA_VERSION",
    "STALE_AFTER",
    "Conversation",
    "ConversationNotFound",
    "DatabaseGone",
    "DatabaseTooNew",
    "MessageNotFound",
    "Recorder",
    "Redactor",
    "SearchHit",
    "Store",
    "StoreError",
    "StoredMessage",
    "secret_values",
    "title_from",
]

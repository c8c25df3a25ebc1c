"""Conversations that last: the SQLite store, the exchange that saves a prompt and its run, search.

    store = Store.open(config.resolved_data_dir(), secrets=secret_values(config))   # salon.config.secrets
    exchange = Exchange(store, agent_id="socrates")
    exchange.write_prompt(prompt)                          # committed before the request is sent
    async for event in exchange.follow(session.run("socrates", None, history=exchange.history())):
        ...

``import salon.store`` loads nothing (not even sqlite3): the names below are imported on first use. The store is told
its secrets by its caller and holds the conversation model of :mod:`salon.messages`; it imports neither the
providers, the runner nor the configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from salon._lazy import lazy_exports

if TYPE_CHECKING:
    from salon.store.connection import DATABASE_NAME
    from salon.store.database import Store, title_from
    from salon.store.errors import (
        ConversationNotFound,
        DatabaseGone,
        DatabaseTooNew,
        MessageNotFound,
        StoreError,
    )
    from salon.store.exchange import Exchange
    from salon.store.history import sent_to_model
    from salon.store.liveness import STALE_AFTER
    from salon.store.models import Conversation, SearchHit, StoredMessage
    from salon.store.recorder import CHECKPOINT_INTERVAL, Recorder
    from salon.store.redact import REDACTED, Redactor, secret_values
    from salon.store.schema import SCHEMA_VERSION

_LAZY = {
    "CHECKPOINT_INTERVAL": "salon.store.recorder",
    "DATABASE_NAME": "salon.store.connection",
    "REDACTED": "salon.store.redact",
    "SCHEMA_VERSION": "salon.store.schema",
    "STALE_AFTER": "salon.store.liveness",
    "Conversation": "salon.store.models",
    "ConversationNotFound": "salon.store.errors",
    "DatabaseGone": "salon.store.errors",
    "DatabaseTooNew": "salon.store.errors",
    "Exchange": "salon.store.exchange",
    "MessageNotFound": "salon.store.errors",
    "Recorder": "salon.store.recorder",
    "Redactor": "salon.store.redact",
    "SearchHit": "salon.store.models",
    "Store": "salon.store.database",
    "StoreError": "salon.store.errors",
    "StoredMessage": "salon.store.models",
    "secret_values": "salon.store.redact",
    "sent_to_model": "salon.store.history",
    "title_from": "salon.store.database",
}

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
    "Exchange",
    "MessageNotFound",
    "Recorder",
    "Redactor",
    "SearchHit",
    "Store",
    "StoreError",
    "StoredMessage",
    "secret_values",
    "sent_to_model",
    "title_from",
]

__getattr__ = lazy_exports(__name__, _LAZY)

"""The schema and its migrations, versioned with ``PRAGMA user_version``.

``MIGRATIONS[n]`` takes a database from version ``n`` to ``n + 1``; version 0 is an empty file. A released
migration is never edited: a schema change is a new migration appended here, plus a frozen copy of the schema it
produces in ``tests/test_migrations.py``. All pending migrations run in one write transaction, so a failure leaves
the database exactly as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from salon.store.errors import DatabaseTooNew

Migration = Callable[[sqlite3.Connection], None]


def _statements(*sql: str) -> Migration:
    # Not executescript(): it commits first, which would break the all-or-nothing upgrade.
    def apply(conn: sqlite3.Connection) -> None:
        for statement in sql:
            conn.execute(statement)

    return apply


_V1 = _statements(
    """CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        agent_id TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        message_count INTEGER NOT NULL DEFAULT 0
    )""",
    # The conversation list reads newest first, a page at a time, without counting or scanning messages.
    "CREATE INDEX conversations_by_update ON conversations (updated_at DESC)",
    """CREATE TABLE messages (
        pk INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        text TEXT NOT NULL DEFAULT '',
        thinking TEXT NOT NULL DEFAULT '',
        agent_id TEXT,
        agent_name TEXT,
        model TEXT,
        status TEXT NOT NULL CHECK (status IN ('streaming', 'complete', 'interrupted', 'failed')),
        input_tokens INTEGER,
        output_tokens INTEGER,
        usage_estimated INTEGER NOT NULL DEFAULT 0,
        time_to_first_token REAL,
        duration REAL,
        tokens_per_second REAL,
        finish_reason TEXT,
        error TEXT,
        created_at REAL NOT NULL,
        writer TEXT,
        checkpoint_at REAL,
        UNIQUE (conversation_id, seq)
    )""",
    # Start-up looks for replies left streaming by a crashed process; this keeps that look independent of size.
    "CREATE INDEX messages_streaming ON messages (checkpoint_at) WHERE status = 'streaming'",
    # External content: the index refers to messages.pk, an INTEGER PRIMARY KEY that VACUUM never renumbers.
    """CREATE VIRTUAL TABLE messages_fts USING fts5 (
        text, content = 'messages', content_rowid = 'pk',
        tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
    )""",
    """CREATE TRIGGER messages_inserted AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, text) VALUES (new.pk, new.text);
        UPDATE conversations SET message_count = message_count + 1,
                                 updated_at = MAX(updated_at, new.created_at)
         WHERE id = new.conversation_id;
    END""",
    """CREATE TRIGGER messages_deleted AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.pk, old.text);
        UPDATE conversations SET message_count = message_count - 1 WHERE id = old.conversation_id;
    END""",
    """CREATE TRIGGER messages_text_changed AFTER UPDATE OF text ON messages
       WHEN old.text IS NOT new.text BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.pk, old.text);
        INSERT INTO messages_fts (rowid, text) VALUES (new.pk, new.text);
    END""",
)

# The model picked for a conversation (ctrl+o) belongs to it: NULL means its agent's own model(s).
_V2 = _statements("ALTER TABLE conversations ADD COLUMN model TEXT")

# Tool calls are parts of the assistant message whose completion made them, after its text, in order.
_V3 = _statements(
    """CREATE TABLE tool_calls (
        pk INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        call_id TEXT NOT NULL,
        server TEXT NOT NULL DEFAULT '',
        tool TEXT NOT NULL,
        arguments TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL CHECK (status IN ('streaming', 'waiting', 'running', 'completed', 'failed', 'denied',
                                               'cancelled')),
        output TEXT,
        error TEXT,
        UNIQUE (message_id, position)
    )""",
)

# The function name the model was offered and called a tool by (``server__tool`` where two servers share a tool
# name), so that a conversation continued later tells the model the name it used. Calls kept before have none:
# they go on being sent by their bare tool name, as they were.
_V4 = _statements("ALTER TABLE tool_calls ADD COLUMN function TEXT NOT NULL DEFAULT ''")

MIGRATIONS: tuple[Migration, ...] = (_V1, _V2, _V3, _V4)
SCHEMA_VERSION = len(MIGRATIONS)


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_version(conn: sqlite3.Connection, path: Path, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """The database's version; raises :class:`DatabaseTooNew` before anything is written to a newer one."""
    found = user_version(conn)
    if found > len(migrations):
        raise DatabaseTooNew(path, found, len(migrations))
    return found


def migrate(conn: sqlite3.Connection, path: Path, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the database up to date; returns the version it had. ``conn`` must be in autocommit mode."""
    if check_version(conn, path, migrations) == len(migrations):
        return len(migrations)
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Read again under the write lock: another Salon may have migrated while this one waited for it.
        found = check_version(conn, path, migrations)
        for version in range(found, len(migrations)):
            migrations[version](conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found

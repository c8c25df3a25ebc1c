"""Schema versions: every earlier database opens and upgrades; a newer one is refused untouched.

``FROZEN`` holds each released schema exactly as that release created it. These are copies on purpose, never
imported from ``salon.store.schema``: when the schema changes, a new migration goes into ``MIGRATIONS``, its result
is frozen here as the next version, and the tests below prove that every older file still opens.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from salon.store import DATABASE_NAME, SCHEMA_VERSION, DatabaseTooNew, Store, StoreError
from salon.store.connection import connect
from salon.store.schema import MIGRATIONS
from tests.conftest import ROOT, salon_env

FROZEN_V1 = """
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    agent_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    message_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX conversations_by_update ON conversations (updated_at DESC);
CREATE TABLE messages (
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
);
CREATE INDEX messages_streaming ON messages (checkpoint_at) WHERE status = 'streaming';
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    text, content = 'messages', content_rowid = 'pk',
    tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
);
CREATE TRIGGER messages_inserted AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (new.pk, new.text);
    UPDATE conversations SET message_count = message_count + 1,
                             updated_at = MAX(updated_at, new.created_at)
     WHERE id = new.conversation_id;
END;
CREATE TRIGGER messages_deleted AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.pk, old.text);
    UPDATE conversations SET message_count = message_count - 1 WHERE id = old.conversation_id;
END;
CREATE TRIGGER messages_text_changed AFTER UPDATE OF text ON messages
   WHEN old.text IS NOT new.text BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.pk, old.text);
    INSERT INTO messages_fts (rowid, text) VALUES (new.pk, new.text);
END;
"""

# What a version-1 user had: a finished exchange, and a reply that was streaming when its process died.
SAMPLE_V1 = """
INSERT INTO conversations (id, title, agent_id, created_at, updated_at) VALUES
    ('conv_0000000000000000000000a1', 'What is virtue?', 'socrates', 1700000000.0, 1700000000.0);
INSERT INTO messages (id, conversation_id, seq, role, text, status, created_at) VALUES
    ('msg_0000000000000000000000b1', 'conv_0000000000000000000000a1', 1, 'user', 'What is virtue?', 'complete',
     1700000000.0);
INSERT INTO messages (id, conversation_id, seq, role, text, agent_id, agent_name, model, status, input_tokens,
                      output_tokens, duration, tokens_per_second, finish_reason, created_at) VALUES
    ('msg_0000000000000000000000b2', 'conv_0000000000000000000000a1', 2, 'assistant', 'Knowledge, perhaps.',
     'socrates', 'Socrates', 'ollama/llama3.2', 'complete', 26, 4, 0.5, 8.0, 'stop', 1700000001.0);
INSERT INTO messages (id, conversation_id, seq, role, text, status, created_at) VALUES
    ('msg_0000000000000000000000b3', 'conv_0000000000000000000000a1', 3, 'user', 'And courage?', 'complete',
     1700000002.0);
INSERT INTO messages (id, conversation_id, seq, role, text, agent_id, agent_name, model, status, created_at,
                      writer, checkpoint_at) VALUES
    ('msg_0000000000000000000000b4', 'conv_0000000000000000000000a1', 4, 'assistant', 'Courage is a kind of',
     'socrates', 'Socrates', 'ollama/llama3.2', 'streaming', 1700000003.0, 'old-host/4242', 1700000004.0);
"""

# Version 2: the model picked for a conversation is stored with it (NULL: the agent's own).
FROZEN_V2 = FROZEN_V1.replace("""    message_count INTEGER NOT NULL DEFAULT 0
);""", """    message_count INTEGER NOT NULL DEFAULT 0,
    model TEXT
);""", 1)
assert FROZEN_V2 != FROZEN_V1

SAMPLE_V2 = SAMPLE_V1

# Version 3: tool calls, kept as parts of the message whose completion made them.
FROZEN_V3 = FROZEN_V2 + """
CREATE TABLE tool_calls (
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
);
"""

SAMPLE_V3 = SAMPLE_V2 + """
INSERT INTO tool_calls (message_id, position, call_id, server, tool, arguments, status, output) VALUES
    ('msg_0000000000000000000000b2', 0, 'call_1', 'time', 'get_current_time', '{"timezone": "Asia/Tokyo"}',
     'completed', '{"datetime": "2026-12-02T23:30:00+09:00"}');
"""

# Version 4: the function name the model called a tool by (``server__tool`` where two servers share a tool name).
FROZEN_V4 = FROZEN_V3.replace("""    error TEXT,
    UNIQUE (message_id, position)""", """    error TEXT,
    function TEXT NOT NULL DEFAULT '',
    UNIQUE (message_id, position)""", 1)
assert FROZEN_V4 != FROZEN_V3

FROZEN: dict[int, tuple[str, str]] = {1: (FROZEN_V1, SAMPLE_V1), 2: (FROZEN_V2, SAMPLE_V2),
                                      3: (FROZEN_V3, SAMPLE_V3), 4: (FROZEN_V4, SAMPLE_V3)}


def _schema(path: Path) -> set[tuple[str, str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    return {(kind, name, _normal(sql)) for kind, name, sql in rows}


def _normal(sql: str) -> str:
    return re.sub(r"\s*([(),;])\s*", r"\1", re.sub(r"\s+", " ", sql)).strip()


def _build(path: Path, version: int) -> None:
    """A database file exactly as the release with schema ``version`` left it (0: an empty file)."""
    if version == 0:
        path.write_bytes(b"")
        return
    schema, sample = FROZEN[version]
    with sqlite3.connect(path) as conn:
        conn.executescript(schema + sample + f"PRAGMA user_version = {version};")
    conn.close()


def test_every_version_is_frozen_and_the_latest_matches_the_migrations(tmp_path: Path) -> None:
    assert set(FROZEN) == set(range(1, SCHEMA_VERSION + 1)), "freeze each new schema version in FROZEN"
    Store.open(tmp_path / "migrated", secrets=()).close()
    _build(tmp_path / "frozen.db", SCHEMA_VERSION)
    assert _schema(tmp_path / "migrated" / DATABASE_NAME) == _schema(tmp_path / "frozen.db")


@pytest.mark.parametrize("version", range(SCHEMA_VERSION + 1))
def test_a_database_from_every_version_opens_and_keeps_its_conversations(tmp_path: Path, version: int) -> None:
    path = tmp_path / DATABASE_NAME
    _build(path, version)
    with Store.open(tmp_path, secrets=()) as store:
        assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        if version:
            conversation = store.conversation("conv_0000000000000000000000a1")
            assert (conversation.title, conversation.agent_id, conversation.message_count) == (
                "What is virtue?", "socrates", 4)
            texts = [(m.role, m.text, m.status) for m in store.messages(conversation.id)]
            assert texts == [("user", "What is virtue?", "complete"),
                             ("assistant", "Knowledge, perhaps.", "complete"),
                             ("user", "And courage?", "complete"),
                             ("assistant", "Courage is a kind of", "interrupted")]
            reply = store.messages(conversation.id)[1]
            assert (reply.input_tokens, reply.output_tokens, reply.model) == (26, 4, "ollama/llama3.2")
            assert [h.message_id for h in store.search("knowledge")] == ["msg_0000000000000000000000b2"]
            assert conversation.model is None, "an older conversation is answered by its agent's own model"
            if version >= 3:
                [call] = reply.tool_calls
                assert (call.name, call.status, call.output) == (
                    "time.get_current_time", "completed", '{"datetime": "2026-12-02T23:30:00+09:00"}')
            else:
                assert reply.tool_calls == ()
        # and it takes new conversations, with the model picked for them
        new = store.create_conversation("assistant", model="ollama/qwen3")
        assert store.conversation(new.id).model == "ollama/qwen3"
        store.add_user_message(new.id, "a fresh prompt after the upgrade")
        assert store.search("fresh")[0].conversation_id == new.id


def test_tool_calls_kept_before_version_4_are_sent_again_as_they_were_and_new_ones_keep_their_function(
        tmp_path: Path) -> None:
    from salon.events import ToolCall
    from salon.messages import ChatMessage, ToolRequest

    _build(tmp_path / DATABASE_NAME, 3)
    with Store.open(tmp_path, secrets=()) as store:
        conversation = "conv_0000000000000000000000a1"
        [old] = store.message("msg_0000000000000000000000b2").tool_calls
        assert (old.function, old.tool, old.arguments) == ("", "get_current_time", '{"timezone": "Asia/Tokyo"}')
        # A call stored before the function name was kept is told to the model by its bare tool name, as before.
        sent = store.history(conversation)
        assert sent[1] == ChatMessage("assistant", "Knowledge, perhaps.", tool_calls=(
            ToolRequest("call_1", "get_current_time", '{"timezone": "Asia/Tokyo"}'),))
        assert sent[2].tool_name == "get_current_time"
        # A call saved now keeps the name the model called it by, and a later report without it does not lose it.
        store.save_tool_calls("msg_0000000000000000000000b2", [
            ToolCall("call_1", 0, "time", "get_current_time", "{}", "completed", "now",
                     function="time__get_current_time")])
        store.save_tool_calls("msg_0000000000000000000000b2", [
            ToolCall("call_1", 0, "time", "get_current_time", "{}", "completed", "now")])
        [new] = store.message("msg_0000000000000000000000b2").tool_calls
        assert new.function == "time__get_current_time"
        assert store.history(conversation)[1].tool_calls[0].name == "time__get_current_time"


def test_a_database_from_a_newer_salon_is_refused_and_untouched(tmp_path: Path) -> None:
    folder = tmp_path / "newer"
    folder.mkdir()
    path = folder / DATABASE_NAME
    _build(path, SCHEMA_VERSION)
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(DatabaseTooNew) as refused:
        Store.open(folder, secrets=())
    message = str(refused.value)
    assert str(path) in message and "newer Salon" in message and "--data-dir" in message
    assert path.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == [DATABASE_NAME]  # not even switched to WAL


def _with_extra(*extra):
    return (*MIGRATIONS, *extra)


def test_an_upgrade_keeps_a_backup_and_applies_the_new_migration(tmp_path: Path) -> None:
    path = tmp_path / DATABASE_NAME
    _build(path, SCHEMA_VERSION)

    def add_pinned(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE conversations ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")

    conn = connect(path, _with_extra(add_pinned))
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert conn.execute("SELECT title, pinned FROM conversations").fetchall() == [("What is virtue?", 0)]
    finally:
        conn.close()
    backup = tmp_path / f"{DATABASE_NAME}.v{SCHEMA_VERSION}.bak"
    with sqlite3.connect(backup) as old:
        assert old.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert old.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 4
    old.close()


def test_a_failing_migration_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / DATABASE_NAME
    _build(path, SCHEMA_VERSION)

    def half_done(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE tags (name TEXT)")
        conn.execute("DELETE FROM messages")
        conn.execute("THIS IS NOT SQL")

    with pytest.raises(StoreError):
        connect(path, _with_extra(half_done))
    with Store.open(tmp_path, secrets=()) as store:
        assert store.message_count("conv_0000000000000000000000a1") == 4
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'tags'").fetchone() is None
    conn.close()


def test_several_processes_creating_the_database_at_once_all_succeed(tmp_path: Path) -> None:
    script = ("import sys; from pathlib import Path; from salon.store import Store\n"
              "s = Store.open(Path(sys.argv[1]), secrets=()); c = s.create_conversation('assistant')\n"
              "s.add_user_message(c.id, 'hello from ' + sys.argv[2]); s.close()")
    processes = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), str(i)], env=salon_env(), cwd=ROOT,
                                  stderr=subprocess.PIPE, text=True) for i in range(4)]
    errors = [p.communicate(timeout=60)[1] for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0, 0], errors
    with Store.open(tmp_path, secrets=()) as store:
        assert sorted(c.title for c in store.conversations()) == [f"hello from {i}" for i in range(4)]

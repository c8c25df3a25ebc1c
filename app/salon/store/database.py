"""The conversation database: conversations, their messages, search. One :class:`Store` per process is enough."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from salon.events import MessageStatus, ToolCall
from salon.ids import new_id
from salon.messages import ChatMessage, ToolCallPart, turns
from salon.reply import Reply
from salon.store import tool_parts
from salon.store.connection import DATABASE_NAME, connect, translated
from salon.store.errors import ConversationNotFound, DatabaseGone, MessageNotFound, StoreError
from salon.store.liveness import is_orphaned, status_as_read, writer_identity
from salon.store.models import Conversation, SearchHit, StoredMessage
from salon.store.redact import Redactor
from salon.store.search import fts_query

if TYPE_CHECKING:
    from salon.store.recorder import Recorder

TITLE_LENGTH = 60
_CONVERSATION_COLUMNS = "id, title, agent_id, created_at, updated_at, message_count, model"
_MESSAGE_COLUMNS = ("id, conversation_id, role, text, thinking, agent_id, agent_name, model, status, input_tokens, "
                    "output_tokens, usage_estimated, time_to_first_token, duration, tokens_per_second, "
                    "finish_reason, error, created_at, seq, writer, checkpoint_at")
# A row's columns, less writer and checkpoint_at, are the message's fields in order, its tool calls last. (Typed
# loosely: a row is a list of Any, which the dataclass's own signature cannot check.)
_from_row: Callable[..., StoredMessage] = StoredMessage


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def title_from(prompt: str) -> str:
    """A conversation's title: the first line of its first prompt, shortened."""
    line = next((ln.strip() for ln in prompt.splitlines() if ln.strip()), "")
    line = " ".join(line.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


class Store:
    """Conversations and messages in ``<data dir>/salon.db`` (SQLite, WAL mode, shared safely between processes).

    Every method is one short transaction, safe to call from any thread. Text written passes a :class:`Redactor`,
    so secrets from the environment and config never reach the file. Replies left ``streaming`` by a process that
    died read as ``interrupted`` (see :mod:`salon.store.liveness`).
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, redactor: Redactor,
                 now: Callable[[], float] = time.time, *, persistent: bool = True) -> None:
        self._conn = conn
        self.path = path
        self.persistent = persistent
        """False for a store kept in memory (see :mod:`salon.store.memory`): nothing it holds outlives the process."""
        self.redact = redactor
        self._now = now
        self._lock = threading.RLock()
        self._writer = writer_identity()
        self._identity = _identity(path) if persistent else None

    @classmethod
    def open(cls, data_dir: Path, *, secrets: Iterable[str] = (), now: Callable[[], float] = time.time) -> Store:
        """Open ``data_dir/salon.db``, creating and upgrading it as needed.

        ``secrets`` are kept out of everything written: the caller's, which knows its configuration (see
        :func:`salon.config.secrets.secret_values`). ``now`` is the wall clock stamped on rows. Raises
        :class:`StoreError` (damaged, newer, unwritable) without changing the file.
        """
        path = Path(data_dir).expanduser() / DATABASE_NAME
        store = cls(connect(path), path, Redactor(secrets), now)
        store._mark_orphans()
        return store

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ---------------------------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock, translated(self.path):
            yield self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so the busy timeout covers a second process's writes.
        with self._lock, translated(self.path):
            self._check_still_there()
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _check_still_there(self) -> None:
        """Refuse to write into a file that was deleted or replaced since it was opened.

        SQLite would go on writing into the open, unlinked file and every word would vanish when Salon closes.
        """
        if self._identity is not None and _identity(self.path) != self._identity:
            raise DatabaseGone(self.path)

    # -- conversations --------------------------------------------------------------------------------------

    def create_conversation(self, agent_id: str, title: str | None = None, *,
                            model: str | None = None) -> Conversation:
        """A new, empty conversation. (Creating it at the first prompt keeps empty ones out of the list.)"""
        conversation_id = new_id("conv")
        now = self._now()
        title = self.redact(" ".join((title or "").split()))
        with self._write() as conn:
            conn.execute("INSERT INTO conversations (id, title, agent_id, created_at, updated_at, model) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (conversation_id, title, agent_id, now, now, model))
        return Conversation(conversation_id, title, agent_id, now, now, 0, model)

    def conversations(self, limit: int | None = None, offset: int = 0) -> list[Conversation]:
        """Newest (last updated) first."""
        with self._read() as conn:
            rows = conn.execute(f"SELECT {_CONVERSATION_COLUMNS} FROM conversations "
                                "ORDER BY updated_at DESC, rowid DESC LIMIT ? OFFSET ?",
                                (-1 if limit is None else limit, offset)).fetchall()
        return [Conversation(*row) for row in rows]

    def conversation(self, conversation_id: str) -> Conversation:
        with self._read() as conn:
            row = conn.execute(f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ?",
                               (conversation_id,)).fetchone()
        if row is None:
            raise ConversationNotFound(conversation_id)
        return Conversation(*row)

    def resolve_conversation(self, reference: str) -> Conversation:
        """A conversation named as users type it: its id, a unique start of the id (with or without ``conv_``),
        or ``last``/``latest``."""
        reference = reference.strip()
        if reference in ("last", "latest"):
            if (latest := self.latest_conversation()) is None:
                raise ConversationNotFound(reference, "there are no conversations yet")
            return latest
        prefix = reference if reference.startswith("conv_") else f"conv_{reference}"
        if not reference or not prefix[5:].isalnum():
            raise ConversationNotFound(reference)
        with self._read() as conn:
            rows = conn.execute(f"SELECT {_CONVERSATION_COLUMNS} FROM conversations "
                                "WHERE id >= ? AND id < ? ORDER BY id LIMIT 2",
                                (prefix, prefix + "\U0010ffff")).fetchall()
        if not rows:
            raise ConversationNotFound(reference)
        if len(rows) > 1 and rows[0][0] != prefix:
            raise ConversationNotFound(reference, "it starts more than one id; give more of it")
        return Conversation(*rows[0])

    def latest_conversation(self) -> Conversation | None:
        found = self.conversations(limit=1)
        return found[0] if found else None

    def rename_conversation(self, conversation_id: str, title: str) -> None:
        self._update_conversation(conversation_id, "title", self.redact(" ".join(title.split())))

    def set_conversation_agent(self, conversation_id: str, agent_id: str) -> None:
        self._update_conversation(conversation_id, "agent_id", agent_id)

    def set_conversation_model(self, conversation_id: str, model: str | None) -> None:
        """The model this conversation is answered by from now on; None: its agent's own."""
        self._update_conversation(conversation_id, "model", model)

    def _update_conversation(self, conversation_id: str, column: str, value: str | None) -> None:
        with self._write() as conn:
            changed = conn.execute(f"UPDATE conversations SET {column} = ? WHERE id = ?",
                                   (value, conversation_id)).rowcount
        if not changed:
            raise ConversationNotFound(conversation_id)

    def delete_conversation(self, conversation_id: str) -> None:
        """Delete it and all its messages (overwritten on disk, and gone from search)."""
        with self._write() as conn:
            changed = conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,)).rowcount
        if not changed:
            raise ConversationNotFound(conversation_id)

    # -- messages -------------------------------------------------------------------------------------------

    def add_user_message(self, conversation_id: str, text: str) -> StoredMessage:
        """Store a prompt, committed before it is sent; the first prompt also titles the conversation."""
        message_id = new_id("msg")
        now = self._now()
        text = self.redact(text)
        with self._write() as conn:
            seq = self._next_seq(conn, conversation_id)
            conn.execute("INSERT INTO messages (id, conversation_id, seq, role, text, status, created_at) "
                         "VALUES (?, ?, ?, 'user', ?, 'complete', ?)",
                         (message_id, conversation_id, seq, text, now))
            conn.execute("UPDATE conversations SET title = ? WHERE id = ? AND title = ''",
                         (title_from(text), conversation_id))
        return StoredMessage(message_id, conversation_id, "user", text, "", None, None, None, "complete",
                             None, None, False, None, None, None, None, None, now, seq)

    def _next_seq(self, conn: sqlite3.Connection, conversation_id: str) -> int:
        if conn.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone() is None:
            raise ConversationNotFound(conversation_id)
        row = conn.execute("SELECT MAX(seq) FROM messages WHERE conversation_id = ?", (conversation_id,)).fetchone()
        return (row[0] or 0) + 1

    def messages(self, conversation_id: str, *, offset: int = 0, limit: int | None = None) -> list[StoredMessage]:
        """Oldest first; a page of them with ``offset``/``limit`` (``offset`` may be negative: from the end)."""
        with self._read() as conn:
            if offset < 0:
                count = conn.execute("SELECT message_count FROM conversations WHERE id = ?",
                                     (conversation_id,)).fetchone()
                offset = max(0, (count[0] if count else 0) + offset)
            rows = conn.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? "
                                "ORDER BY seq LIMIT ? OFFSET ?",
                                (conversation_id, -1 if limit is None else limit, offset)).fetchall()
            calls = tool_parts.load(conn, (row[0] for row in rows if row[2] == "assistant"))
        now = self._now()
        return [self._message(row, now, calls.get(row[0], ())) for row in rows]

    def message(self, message_id: str) -> StoredMessage:
        with self._read() as conn:
            row = conn.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)).fetchone()
            calls = tool_parts.load(conn, [message_id])
        if row is None:
            raise MessageNotFound(message_id)
        return self._message(row, self._now(), calls.get(message_id, ()))

    def message_count(self, conversation_id: str) -> int:
        with self._read() as conn:
            row = conn.execute("SELECT message_count FROM conversations WHERE id = ?",
                               (conversation_id,)).fetchone()
        if row is None:
            raise ConversationNotFound(conversation_id)
        return int(row[0])

    def history(self, conversation_id: str) -> list[ChatMessage]:
        """What a model is sent to continue the conversation (:func:`salon.messages.turns` of each message): every
        prompt, and every reply that has text or tool calls and finished or was interrupted, its tool turns as the
        run sent them."""
        # Only the columns the rule and the builder read: a long conversation is sent again at every prompt.
        with self._read() as conn:
            rows = conn.execute("SELECT id, role, text, status, writer, checkpoint_at FROM messages "
                                "WHERE conversation_id = ? AND status != 'failed' ORDER BY seq",
                                (conversation_id,)).fetchall()
            calls = tool_parts.load(conn, (row[0] for row in rows if row[1] == "assistant"))
        now = self._now()
        sent: list[ChatMessage] = []
        for message_id, role, text, status, writer, at in rows:
            sent += turns(role, text, status_as_read(status, writer, at, now), calls.get(message_id, ()))
        return sent

    def delete_message(self, message_id: str) -> None:
        with self._write() as conn:
            if not conn.execute("DELETE FROM messages WHERE id = ?", (message_id,)).rowcount:
                raise MessageNotFound(message_id)

    def _message(self, row: Sequence[Any], now: float, calls: tuple[ToolCallPart, ...] = ()) -> StoredMessage:
        *values, writer, checkpoint_at = row
        values[11] = bool(values[11])
        values[8] = status_as_read(values[8], writer, checkpoint_at, now)
        return _from_row(*values, calls)

    def save_tool_calls(self, message_id: str, calls: Sequence[ToolCall]) -> None:
        """Keep a message's tool calls as they stand now (asked, answered, run); secrets redacted."""
        if not calls:
            return
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM messages WHERE id = ?", (message_id,)).fetchone() is None:
                return  # deleted meanwhile (its conversation deleted while the run went on)
            tool_parts.save(conn, message_id, [(call.index, ToolCallPart.of(call)) for call in calls], self.redact)

    # -- replies, as a Recorder writes them -----------------------------------------------------------------

    def start_reply(self, conversation_id: str, message_id: str, *, agent_id: str, agent_name: str,
                    model: str, created_at: float | None = None) -> None:
        """Insert an empty reply, status ``streaming``, after the conversation's last message."""
        now = self._now()
        with self._write() as conn:
            seq = self._next_seq(conn, conversation_id)
            conn.execute("INSERT INTO messages (id, conversation_id, seq, role, agent_id, agent_name, model, status, "
                         "created_at, writer, checkpoint_at) VALUES (?, ?, ?, 'assistant', ?, ?, ?, 'streaming', "
                         "?, ?, ?)",
                         (message_id, conversation_id, seq, agent_id, agent_name, model,
                          created_at or now, self._writer, now))

    def checkpoint_reply(self, message_id: str, text: str, thinking: str) -> None:
        """Save the text so far of a reply still streaming."""
        with self._write() as conn:
            conn.execute("UPDATE messages SET text = ?, thinking = ?, status = 'streaming', writer = ?, "
                         "checkpoint_at = ? WHERE id = ? AND status IN ('streaming', 'interrupted')",
                         (self.redact(text, partial=True), self.redact(thinking, partial=True), self._writer,
                          self._now(), message_id))

    def finish_reply(self, message_id: str, reply: Reply, status: MessageStatus, error: str | None = None) -> bool:
        """Replace the checkpoint with the final text, status, usage and timings.

        False when the reply is no longer there: only a deliberate delete removes a row, so there is nothing to
        restore.
        """
        if status == "streaming":
            raise ValueError("a finished reply cannot be streaming")
        now = self._now()
        with self._write() as conn:
            changed = conn.execute(
                "UPDATE messages SET text = ?, thinking = ?, model = COALESCE(NULLIF(?, ''), model), status = ?, "
                "input_tokens = ?, output_tokens = ?, usage_estimated = ?, time_to_first_token = ?, duration = ?, "
                "tokens_per_second = ?, finish_reason = ?, error = ?, writer = NULL, checkpoint_at = ? "
                "WHERE id = ?",
                (self.redact(reply.text), self.redact(reply.thinking), reply.model, status,
                 reply.usage.input_tokens, reply.usage.output_tokens, int(reply.usage.estimated),
                 reply.time_to_first_token, reply.duration, reply.tokens_per_second, reply.finish_reason,
                 self.redact(error) if error else None, now, message_id)).rowcount
            if changed:
                conn.execute("UPDATE conversations SET updated_at = MAX(updated_at, ?) "
                             "WHERE id = (SELECT conversation_id FROM messages WHERE id = ?)", (now, message_id))
        return bool(changed)

    def recorder(self, conversation_id: str, clock: Callable[[], float] = time.monotonic) -> Recorder:
        """A :class:`Recorder` that saves the events of one run into this conversation as they arrive."""
        from salon.store.recorder import Recorder

        return Recorder(self, conversation_id, clock)

    def _mark_orphans(self) -> None:
        """Write ``interrupted`` into replies whose writer is gone, so the file itself tells the truth.

        The update repeats the row's writer and checkpoint time: a row a live writer touched meanwhile is left be.
        Failing here (read-only, locked) changes nothing a reader sees, since reads apply the same rule.
        """
        now = self._now()
        try:
            with self._read() as conn:
                rows = conn.execute("SELECT id, writer, checkpoint_at FROM messages WHERE status = 'streaming'"
                                    ).fetchall()
            orphans = [(id_, writer, at) for id_, writer, at in rows if is_orphaned(writer, at, now)]
            if orphans:
                with self._write() as conn:
                    conn.executemany("UPDATE messages SET status = 'interrupted' WHERE id = ? AND "
                                     "status = 'streaming' AND writer IS ? AND checkpoint_at IS ?", orphans)
        except StoreError:
            pass

    # -- search and import ----------------------------------------------------------------------------------

    def search(self, query: str, limit: int = 50, *, marks: tuple[str, str] = ("[", "]")) -> list[SearchHit]:
        """Messages matching ``query`` (all words, as prefixes; ``"quoted phrase"`` exactly), best match first.

        Any text is a valid query: FTS5 syntax typed by a user is searched as plain words. ``marks`` surround
        the matched terms in each snippet.
        """
        match = fts_query(query)
        if match is None:
            return []
        with self._read() as conn:
            rows = conn.execute(
                "SELECT m.conversation_id, c.title, m.id, m.role, "
                "snippet(messages_fts, 0, ?, ?, '…', 16), m.created_at, m.seq "
                "FROM messages_fts JOIN messages m ON m.pk = messages_fts.rowid "
                "JOIN conversations c ON c.id = m.conversation_id "
                "WHERE messages_fts MATCH ? ORDER BY rank, m.created_at DESC LIMIT ?",
                (marks[0], marks[1], match, limit)).fetchall()
        return [SearchHit(*row) for row in rows]

    def import_conversations(
        self, items: Iterable[tuple[Conversation, Sequence[StoredMessage]]]
    ) -> tuple[list[str], list[str]]:
        """Add whole conversations in one transaction; returns (ids imported, ids skipped as already present).

        Messages keep their order, text, agent, model, usage and timings; one that was streaming when exported
        arrives interrupted. A message id already in use gets a fresh one.
        """
        imported: list[str] = []
        skipped: list[str] = []
        with self._write() as conn:
            for conversation, messages in items:
                if conn.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation.id,)).fetchone():
                    skipped.append(conversation.id)
                    continue
                conn.execute("INSERT INTO conversations (id, title, agent_id, created_at, updated_at) "
                             "VALUES (?, ?, ?, ?, ?)",
                             (conversation.id, self.redact(conversation.title), conversation.agent_id,
                              conversation.created_at, conversation.created_at))
                for seq, message in enumerate(messages, start=1):
                    message_id = message.id
                    if conn.execute("SELECT 1 FROM messages WHERE id = ?", (message_id,)).fetchone():
                        message_id = new_id("msg")
                    conn.execute(
                        f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES ({', '.join('?' * 21)})",
                        (message_id, conversation.id, message.role, self.redact(message.text),
                         self.redact(message.thinking), message.agent_id, message.agent_name, message.model,
                         "interrupted" if message.status == "streaming" else message.status,
                         message.input_tokens, message.output_tokens, int(message.usage_estimated),
                         message.time_to_first_token, message.duration, message.tokens_per_second,
                         message.finish_reason, self.redact(message.error) if message.error else None,
                         message.created_at, seq, None, None))
                    if message.tool_calls:
                        tool_parts.save(conn, message_id, list(enumerate(message.tool_calls)), self.redact)
                conn.execute("UPDATE conversations SET updated_at = MAX(updated_at, ?) WHERE id = ?",
                             (conversation.updated_at, conversation.id))
                imported.append(conversation.id)
        return imported, skipped

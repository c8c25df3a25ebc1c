"""Tool calls stored as parts of a message: written as a run reports them, read back with their messages."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence

from salon.messages import ToolCallPart

_COLUMNS = "message_id, position, call_id, server, tool, arguments, status, output, error, function"


def save(conn: sqlite3.Connection, message_id: str, calls: Sequence[tuple[int, ToolCallPart]],
         redact: Callable[[str], str]) -> None:
    """Insert or update each call at its position (a call's status moves on: waiting, then completed)."""
    def clean(text: str | None) -> str | None:
        return None if text is None else redact(text)

    conn.executemany(
        f"INSERT INTO tool_calls ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (message_id, position) DO UPDATE SET call_id = excluded.call_id, server = excluded.server, "
        "tool = excluded.tool, arguments = excluded.arguments, status = excluded.status, "
        "output = excluded.output, error = excluded.error, "
        # A call's later reports may come without the name the model used (a face that quit early): keep it.
        "function = COALESCE(NULLIF(excluded.function, ''), function)",
        [(message_id, position, call.id, call.server, call.tool, redact(call.arguments), call.status,
          clean(call.output), clean(call.error), call.function) for position, call in calls])


def load(conn: sqlite3.Connection, message_ids: Iterable[str]) -> dict[str, tuple[ToolCallPart, ...]]:
    """The tool calls of these messages, in order, by message id (messages without any are absent)."""
    ids = list(message_ids)
    found: dict[str, list[ToolCallPart]] = {}
    # SQLite allows 32,766 variables per statement; a page of messages stays far below, but batch anyway.
    for start in range(0, len(ids), 500):
        batch = ids[start:start + 500]
        marks = ", ".join("?" * len(batch))
        rows = conn.execute(f"SELECT {_COLUMNS} FROM tool_calls WHERE message_id IN ({marks}) "
                            "ORDER BY message_id, position", batch).fetchall()
        for message_id, _, call_id, server, tool, arguments, status, output, error, function in rows:
            found.setdefault(message_id, []).append(
                ToolCallPart(call_id, server, tool, arguments, status, output, error, function))
    return {message_id: tuple(calls) for message_id, calls in found.items()}

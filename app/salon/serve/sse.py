"""Server-Sent Events framing: the agent hub's (``data: {"event": …, "data": …}``) and OpenAI's (``event:``/``data:``).

A run's events are serialised to JSON once; each framing is then a string join, so twenty watchers cost twenty
socket writes, not twenty ``json.dumps``.
"""

from __future__ import annotations

import json
from typing import Any, Literal

Framing = Literal["hub", "openai"]
FRAMINGS: tuple[Framing, ...] = ("hub", "openai")

# OpenAI's stream ends with this after the run's last event; the hub's simply closes after it.
OPENAI_DONE = b"event: done\ndata: [DONE]\n\n"
# A comment line: ignored by every SSE client, it keeps proxies and idle timeouts from closing a quiet stream.
PING = b": ping\n\n"


def dumps(payload: Any) -> str:
    # No indent: JSON escapes every newline inside strings, so the payload is one line, as an SSE data field needs.
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


class Frame:
    """One event of a run, serialised once, framed on demand for either framing."""

    __slots__ = ("_hub", "_openai", "data", "event")

    def __init__(self, event: str, payload: dict[str, Any]) -> None:
        self.event = event
        self.data = dumps(payload)
        self._hub: bytes | None = None
        self._openai: bytes | None = None

    def framed(self, framing: Framing) -> bytes:
        if framing == "hub":
            if self._hub is None:
                self._hub = f'data: {{"event":{dumps(self.event)},"data":{self.data}}}\n\n'.encode()
            return self._hub
        if self._openai is None:
            self._openai = f"event: {self.event}\ndata: {self.data}\n\n".encode()
        return self._openai


def parse(text: str) -> list[tuple[str | None, str]]:
    """``(event, data)`` for each event in an SSE text: what a client sees (used by the tests and the bench)."""
    events: list[tuple[str | None, str]] = []
    name: str | None = None
    data: list[str] = []
    for line in text.splitlines():
        if not line:
            if data or name:
                events.append((name, "\n".join(data)))
            name, data = None, []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
    return events

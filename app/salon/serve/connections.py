"""Connections as ``salon serve`` accepts them: uvicorn's h11 protocol, with a deadline for a request's headers and
a cap on how many connections are open at once.

uvicorn (0.55) has neither. Its ``timeout_keep_alive`` runs only between requests and stops at the first byte of
the next one; its ``limit_concurrency`` is checked once a request's headers are complete; ``h11`` bounds their size
(16 KiB), not their time. So a client that sends half a request line, or a header a byte at a time ("slowloris"),
held its connection for ever (1,500 did, in issue 27), and enough of them would use up the open-file limit. Here
the headers of every request (the first, and each one after on a kept-alive connection) must be complete within
:data:`HEADER_TIMEOUT`, or the connection is answered 408 and closed; past the cap, a new connection is answered
503 and closed at once. A request's body has its own deadline, in the app (``BODY_TIMEOUT``).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

HEADER_TIMEOUT = 10.0
"""Seconds from a connection's opening (or its last response) for the next request's headers to arrive whole."""
_WARN_EVERY = 60.0  # seconds between two "too many connections" lines on standard error


def _refusal(status: int, phrase: str, kind: str, message: str) -> bytes:
    # Written raw: no request was read, so h11 has nothing to answer; the connection closes right after.
    body = json.dumps({"error": {"message": message, "type": kind}}).encode()
    head = (f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n").encode()
    return head + body


_TOO_SLOW = _refusal(408, "Request Timeout", "headers_too_slow",
                     f"the request's headers did not arrive within {HEADER_TIMEOUT:g} seconds")


class GuardedH11Protocol(H11Protocol):
    """:class:`H11Protocol` with :data:`HEADER_TIMEOUT` and a cap on connections (``limit``: made by
    :func:`protocol`, one class per server, since uvicorn makes each connection's protocol from a class)."""

    limit: int
    _warned_at = float("-inf")

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limit:
            self._too_many()
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # the request line and headers are in
            self._disarm()

    def on_response_complete(self) -> None:
        # Armed before uvicorn reads a pipelined request, so that reading it disarms it again.
        self._arm()
        super().on_response_complete()

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(HEADER_TIMEOUT, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        # Only between requests: a request already read is the app's to answer.
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE or self.conn.our_state is not h11.IDLE:
            return
        self.transport.write(_TOO_SLOW)
        self.transport.close()

    def _too_many(self) -> None:
        now = time.monotonic()
        if now - GuardedH11Protocol._warned_at >= _WARN_EVERY:
            GuardedH11Protocol._warned_at = now
            print(f"salon serve: {self.limit} connections are open, the limit; new ones are refused until some "
                  "close (salon serve --max-connections sets it)", file=sys.stderr, flush=True)
        self.transport.write(_refusal(503, "Service Unavailable", "too_many_connections",
                                      f"the server has {self.limit} connections open, its limit; try again shortly"))
        self.transport.close()


def protocol(max_connections: int) -> type[GuardedH11Protocol]:
    """The protocol class for a server that keeps at most ``max_connections`` open (``salon serve
    --max-connections``)."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"limit": max_connections})

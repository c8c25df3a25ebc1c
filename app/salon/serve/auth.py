"""Who may talk to the server: a bearer token off loopback, and on loopback only requests addressed to loopback.

Bound to 127.0.0.1 the server needs no token, but it checks the ``Host`` header (a web page elsewhere could
otherwise reach it through DNS rebinding) and, for requests that change something, the ``Origin`` (a page elsewhere
could otherwise post to it: there is no CORS unless configured, but a plain form post needs none).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import secrets
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

TOKEN_FILE = "serve-token"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# The page itself is no secret; it asks for the token and sends it with every API call.
OPEN_PATHS = ("/", "/favicon.ico")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_or_create_token(data_dir: Path) -> tuple[str, Path, bool]:
    """The server's token, made on first use and kept 0600; ``True`` when it was just made (shown once, then)."""
    path = Path(data_dir).expanduser() / TOKEN_FILE
    if path.is_file():
        token = path.read_text(encoding="utf-8").strip()
        if token:
            path.chmod(0o600)
            return token, path, False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(32)
    # Created 0600 from the first byte: never readable by others, even for an instant.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    path.chmod(0o600)
    return token, path, True


class Guard:
    """ASGI middleware: the token, the Host header on loopback, and the Origin of requests that change things."""

    def __init__(self, app: ASGIApp, *, token: str | None, loopback: bool, cors_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.token = token
        self.loopback = loopback
        self.cors_origins = frozenset(cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        host = headers.get("host", "")
        if self.loopback and _hostname(host) not in LOOPBACK_NAMES:
            await _refuse(send, 403, "forbidden_host", f"this server answers only requests addressed to loopback "
                                                       f"(127.0.0.1 or localhost), not {host!r}")
            return
        origin = headers.get("origin")
        if (origin and scope["method"] not in ("GET", "HEAD", "OPTIONS") and origin not in self.cors_origins
                and not _same_origin(origin, host)):
            await _refuse(send, 403, "forbidden_origin", f"requests from {origin} are not allowed; start the "
                                                         "server with --cors-origin to allow them")
            return
        if self.token is not None and scope["path"] not in OPEN_PATHS and scope["method"] != "OPTIONS":
            scheme, _, given = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token.encode()):
                await _refuse(send, 401, "unauthorized", "this server needs its token: send the header "
                                                         "'Authorization: Bearer TOKEN' (salon serve printed it "
                                                         "when it made it; it is kept in the data folder, "
                                                         f"file {TOKEN_FILE})",
                              extra=[(b"www-authenticate", b"Bearer")])
                return
        await self.app(scope, receive, send)


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _same_origin(origin: str, host: str) -> bool:
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc == host


async def _refuse(send: Send, status: int, kind: str, message: str,
                  extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"error": {"message": message, "type": kind}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

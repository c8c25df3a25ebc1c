"""Redirects are answered with an error, never followed.

Followed, a ``307`` re-sends the whole conversation (and an ``Authorization`` header) to wherever the server
points; ``httpx`` (under both the ``ollama`` client and the openai SDK) follows them when asked to. Salon asks its
clients not to, and turns a 3xx into :class:`RedirectRefused` naming both origins — never a URL's path or query,
which may hold a token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from salon.errors import RedirectRefused


def origin(url: httpx.URL) -> str:
    """``scheme://host:port``, the part of a URL that decides who receives a request."""
    port = url.port or {"http": 80, "https": 443}.get(url.scheme)
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{url.scheme}://{host}:{port}"


def refuse_redirects(server: str) -> Callable[[httpx.Response], Awaitable[None]]:
    """An httpx response hook that raises :class:`RedirectRefused` for any redirect."""

    async def hook(response: httpx.Response) -> None:
        if not response.has_redirect_location:
            return
        target = response.url.join(response.headers["location"])
        raise RedirectRefused(server, response.status_code, origin(response.url), origin(target))

    return hook


def client_options(server: str) -> dict[str, Any]:
    """Keyword arguments for ``httpx.AsyncClient`` (the ``ollama`` client passes them through)."""
    return {"follow_redirects": False, "event_hooks": {"response": [refuse_redirects(server)]}}

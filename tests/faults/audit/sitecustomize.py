"""Loaded by every Python process started with this folder on PYTHONPATH: logs each network contact it tries.

Every ``socket.connect``, ``sendto``, ``sendmsg``, ``getaddrinfo`` and ``gethostbyname*`` (CPython audit events,
raised before the call is made, so an attempt that fails offline is logged too) is appended as one JSON line to
the file named by ``SALON_AUDIT_LOG``. Nothing else changes: the process runs exactly as it would without it.
"""

from __future__ import annotations

import json
import os
import sys

_LOG = os.environ.get("SALON_AUDIT_LOG")
_EVENTS = {"socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo", "socket.gethostbyname",
           "socket.gethostbyname_ex", "socket.gethostbyaddr"}


def _where(event: str, args: tuple) -> tuple[str, object]:
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        address = args[1] if len(args) > 1 else None
        if isinstance(address, tuple) and address:
            return str(address[0]), address[1] if len(address) > 1 else None
        return f"unix:{address!r}", None  # a local socket file
    if event == "socket.getaddrinfo":
        host = args[0]
        return (host.decode() if isinstance(host, bytes) else str(host)), args[1]
    return str(args[0]), None


def _hook(event: str, args: tuple) -> None:
    if event not in _EVENTS or not _LOG:
        return
    host, port = _where(event, args)
    line = json.dumps({"pid": os.getpid(), "event": event, "host": host, "port": port,
                       "argv": sys.argv[:3]}, default=repr)
    with open(_LOG, "a", encoding="utf-8") as out:
        out.write(line + "\n")


if _LOG:
    sys.addaudithook(_hook)

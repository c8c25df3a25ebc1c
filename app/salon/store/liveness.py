"""Telling a reply whose writer crashed from one that another live Salon process is still streaming.

Each streaming row records its writer (``host/pid/token``, the token random per process) and the wall-clock time
of its last checkpoint. A row still marked ``streaming`` is *orphaned*, and reads as ``interrupted``, when either

- its writer ran on this host and that process no longer exists (a ``kill -9`` is seen at once; a new process
  that happens to get the dead one's pid is told apart by the token), or
- its last checkpoint is older than :data:`STALE_AFTER` (writers on other hosts, a reused pid, or platforms where
  a process cannot be probed safely).

A live writer checkpoints at least once a second while text arrives and always writes its final status, and every
write it makes sets the status again, so a row that another process marked interrupted by mistake heals with
that writer's next write. The rule never needs to rewrite a live process's row to be right.
"""

from __future__ import annotations

import os
import socket
import uuid
from functools import cache

# Far longer than any silence a live writer allows itself: a stalled stream ends (and is written) at the read
# timeout, two minutes by default.
STALE_AFTER = 600.0


@cache
def _token(pid: int) -> str:
    # Keyed by pid so a forked child, which inherits the cache, still gets a token of its own.
    return uuid.uuid4().hex[:12]


def writer_identity() -> str:
    return f"{socket.gethostname()}/{os.getpid()}/{_token(os.getpid())}"


def is_orphaned(writer: str | None, checkpoint_at: float | None, now: float) -> bool:
    if checkpoint_at is None or now - checkpoint_at > STALE_AFTER or not writer:
        return True
    host, pid, token = [*writer.split("/"), "", ""][:3]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return token != _token(os.getpid())
    return not _process_exists(int(pid))


def status_as_read(status: str, writer: str | None, checkpoint_at: float | None, now: float) -> str:
    """A reply left ``streaming`` by a writer that is gone reads as interrupted."""
    return "interrupted" if status == "streaming" and is_orphaned(writer, checkpoint_at, now) else status


def _process_exists(pid: int) -> bool:
    if os.name != "posix":
        return True  # os.kill on Windows would terminate the process: rely on STALE_AFTER there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but belongs to someone else
    return True

"""Opening the database file, and turning SQLite's errors into messages a user can act on."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from salon.store.errors import StoreError
from salon.store.schema import MIGRATIONS, Migration, check_version, migrate

DATABASE_NAME = "salon.db"
BUSY_TIMEOUT = 5.0  # seconds a writer waits for another Salon process to finish its write


def connect(path: Path, migrations: Sequence[Migration] = MIGRATIONS) -> sqlite3.Connection:
    """Open (creating if need be) and migrate the database at ``path``; a newer or damaged file is left as it is."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(
            f"cannot create the data folder {path.parent}: {error.strerror or error}. "
            "Choose another with --data-dir or data_dir in config.toml."
        ) from error
    with translated(path):
        # Autocommit: every write opens its own BEGIN IMMEDIATE, so no read silently grows into a write
        # transaction that a second process could make fail with SQLITE_BUSY despite the busy timeout.
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
    try:
        with translated(path):
            found = check_version(conn, path, migrations)  # before any write: a newer Salon's file stays untouched
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            if 0 < found < len(migrations):
                _backup(conn, path, found)
            conn.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL loses nothing when a process is killed, only (at worst) the last commits on power
            # loss, and it keeps the once-a-second checkpoints cheap.
            conn.execute("PRAGMA synchronous = NORMAL")
            # A deleted conversation is overwritten, not left readable in free pages.
            conn.execute("PRAGMA secure_delete = ON")
            migrate(conn, path, migrations)
    except BaseException:
        conn.close()
        raise
    return conn


def _backup(conn: sqlite3.Connection, path: Path, version: int) -> None:
    """Copy an older database aside before upgrading it, so a bad upgrade can always be undone by hand."""
    target = path.with_name(f"{path.name}.v{version}.bak")
    if target.exists():
        return
    copy = sqlite3.connect(target)
    try:
        conn.backup(copy)
    finally:
        copy.close()


@contextmanager
def translated(path: Path) -> Iterator[None]:
    """Re-raise any ``sqlite3.Error`` inside as a :class:`StoreError` naming ``path`` and a way out."""
    try:
        yield
    except sqlite3.Error as error:
        raise explain(error, path) from error


def explain(error: sqlite3.Error, path: Path) -> StoreError:
    name = getattr(error, "sqlite_errorname", "") or ""
    text = str(error)
    if "READONLY" in name or "readonly" in text:
        return StoreError(f"{path} is read-only ({text}): make it and its folder writable, or use --data-dir "
                          "to keep conversations elsewhere")
    # A full disk can also surface as a failure to grow the WAL's shared-memory file when the database opens.
    if name.startswith("SQLITE_FULL") or "disk is full" in text or name == "SQLITE_IOERR_SHMSIZE":
        return StoreError(f"no space left to write {path}: free some disk space and try again "
                          "(what was already saved is kept)")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return StoreError(f"{path} stayed locked by another program for over {BUSY_TIMEOUT:g} s; "
                          "try again when it has finished")
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")) or "not a database" in text or "malformed" in text:
        return StoreError(f"{path} is damaged or not a Salon database ({text}). Salon left it as it is: move it "
                          f"aside to start afresh, or try `sqlite3 {path} .recover` to rescue what it holds")
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        return StoreError(f"cannot open {path} ({text}): check that its folder exists and is writable, "
                          "or use --data-dir")
    return StoreError(f"{path}: {text}")

"""Opening the database file, and turning SQLite's errors into messages a user can act on."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from salon.store.errors import StoreError
from salon.store.schema import MIGRATIONS, Migration, check_version, migrate

DATABASE_NAME = "salon.db"
BUSY_TIMEOUT = 5.0  # seconds a writer waits for another Salon process to finish its write
FOLDER_MODE = 0o700
FILE_MODE = 0o600
_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_file(path: Path) -> None:
    """Create ``path`` (empty) as 0600 if missing, and take group and other access from it if present.

    SQLite gives ``-wal`` and ``-shm`` the database file's own mode, so a 0600 ``salon.db`` keeps them private too.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, FILE_MODE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
            with contextlib.suppress(OSError):  # not the owner (a shared, read-only file): leave it be
                os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def _private_folder(folder: Path, tighten: bool) -> None:
    """Create ``folder`` 0700; an existing one is tightened only where it is Salon's own (the default data folder),
    since a folder named with --data-dir may be shared on purpose (its files are 0600 either way)."""
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    if tighten and stat.S_IMODE(folder.stat().st_mode) & 0o077:
        with contextlib.suppress(OSError):
            folder.chmod(FOLDER_MODE)


def connect(path: Path, migrations: Sequence[Migration] = MIGRATIONS) -> sqlite3.Connection:
    """Open (creating if need be) and migrate the database at ``path``; a newer or damaged file is left as it is."""
    from salon import locations

    try:
        _private_folder(path.parent, tighten=path.parent == locations.data_dir())
    except OSError as error:
        raise StoreError(
            f"cannot create the data folder {path.parent}: {error.strerror or error}. "
            "Choose another with --data-dir or data_dir in config.toml."
        ) from error
    try:
        private_file(path)
        for suffix in _SIDE_FILES:
            side = path.with_name(path.name + suffix)
            if side.exists():
                private_file(side)
    except OSError:
        pass  # read-only or not ours: SQLite's own error below says what the user can do
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
    private_file(target)
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
        if path.is_dir():
            # The usual advice (the folder must exist and be writable) would send the user the wrong way.
            return StoreError(f"{path} is a folder, not a database file: Salon keeps its conversations in a file "
                              "of that name. Move the folder aside, or use --data-dir to keep them elsewhere")
        return StoreError(f"cannot open {path} ({text}): check that its folder exists and is writable, "
                          "or use --data-dir")
    return StoreError(f"{path}: {text}")

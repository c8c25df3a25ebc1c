"""The conversation database when it cannot be used: damaged, read-only, from a newer Salon, or the disk full.

The promises: a question asked with ``salon ask`` is still answered, with a warning that it is not being saved;
a file Salon cannot use is left byte for byte as it was; ``salon history`` says what is wrong and what to do;
and once the cause is gone, the next command works with everything saved before still there.

Read-only and disk-full are staged for real: a read-only bind mount and a tiny tmpfs inside a private mount
namespace (``unshare -m``; tests run as root, so file modes alone would not stop a write), and an immutable file
(``chattr +i``), which stops root too.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from salon.store import SCHEMA_VERSION, Store
from tests.faults.conftest import Home, next_command_works, require_mounts, run_inside, salon
from tests.servers.ollama import OllamaServer, Scripted

ANSWER = "Virtue is knowledge."


def _fingerprint(folder: Path) -> dict[str, str]:
    """Every file in ``folder`` and a hash of its bytes."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _saved_conversation(home: Home, ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(text="An older answer."))
    assert salon("ask", "An older question").returncode == 0


def _answered_unsaved(done: subprocess.CompletedProcess, *said: str) -> None:
    """The question was answered, with one warning first that says it is not being saved and why."""
    assert (done.returncode, done.stdout) == (0, ANSWER + "\n"), done.stderr
    (warning,) = done.stderr.splitlines()
    assert warning.startswith("salon: this exchange is not being saved: ")
    for words in said:
        assert words in warning, warning


# -- damaged --------------------------------------------------------------------------------------------------


def _garble_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[:100] = b"\x00this is no longer an SQLite header\x00".ljust(100, b"\xff")
    path.write_bytes(bytes(data))


def _garble_pages(path: Path) -> None:
    # The header survives, so the file opens; the pages holding tables and indexes do not.
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    for offset in range(page, len(data), page):
        data[offset:offset + 64] = b"\xde\xad\xbe\xef" * 16
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_garble_header, _garble_pages], ids=["header", "pages"])
def test_a_damaged_database_is_left_as_it_is_and_the_question_still_answered(
        home: Home, ollama_server: OllamaServer, damage: Callable[[Path], None]) -> None:
    _saved_conversation(home, ollama_server)
    path = home.data_dir / "salon.db"
    assert not (home.data_dir / "salon.db-wal").exists()  # checkpointed on close: all of it is in salon.db
    damage(path)
    before = _fingerprint(home.data_dir)

    ollama_server.script(Scripted(text=ANSWER))
    done = salon("ask", "What is virtue?")
    _answered_unsaved(done, str(path), "Salon left it as it is", "move it aside", ".recover")
    listing = salon("history", "list")
    assert (listing.returncode, listing.stdout) == (1, "")
    assert listing.stderr.startswith(f"salon: {path} is damaged or not a Salon database")
    assert _fingerprint(home.data_dir) == before

    # Continuing needs the history, which is in the damaged file: refused, and nothing is sent.
    sent = len(ollama_server.requests)
    continued = salon("ask", "--continue", "And then?")
    assert (continued.returncode, continued.stdout) == (1, "")
    assert continued.stderr.startswith("salon: cannot continue a conversation: ") and "damaged" in continued.stderr
    assert len(ollama_server.requests) == sent

    # Doing as told: moved aside, Salon starts afresh and the damaged file is there to rescue.
    path.rename(path.with_name("salon.db.damaged"))
    next_command_works(ollama_server, home)
    assert (home.data_dir / "salon.db.damaged").read_bytes() != b""


# -- from a newer Salon ---------------------------------------------------------------------------------------


def test_a_database_from_a_newer_salon_is_refused_clearly_and_never_touched(
        home: Home, ollama_server: OllamaServer) -> None:
    _saved_conversation(home, ollama_server)
    path = home.data_dir / "salon.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 7}")
    conn.close()
    before = _fingerprint(home.data_dir)

    ollama_server.script(Scripted(text=ANSWER))
    done = salon("ask", "What is virtue?")
    _answered_unsaved(done, f"{path} was written by a newer Salon", f"schema version {SCHEMA_VERSION + 7}",
                      "left untouched: upgrade Salon")
    for command in (["history", "list"], ["history", "show"], ["history", "search", "older"]):
        refused = salon(*command)
        assert (refused.returncode, refused.stdout) == (1, ""), command
        assert refused.stderr.startswith(f"salon: {path} was written by a newer Salon"), refused.stderr
    sent = len(ollama_server.requests)
    assert salon("ask", "--continue", "More?").returncode == 1
    assert len(ollama_server.requests) == sent
    assert _fingerprint(home.data_dir) == before  # not a byte written, no file added

    # The newer Salon's conversations are all there for it: nothing was migrated or marked.
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    assert conn.execute("SELECT text FROM messages ORDER BY seq").fetchall() == [("An older question",),
                                                                                 ("An older answer.",)]
    conn.close()


# -- read-only ------------------------------------------------------------------------------------------------


def test_a_read_only_file_system_answers_unsaved_and_keeps_what_was_there(
        home: Home, ollama_server: OllamaServer, tmp_path: Path) -> None:
    require_mounts()
    _saved_conversation(home, ollama_server)
    before = _fingerprint(home.data_dir)
    ollama_server.set_default(Scripted(text=ANSWER))
    data = str(home.data_dir)
    results = run_inside(["-m"], f'''
        sh("mount", "--bind", {data!r}, {data!r})
        sh("mount", "-o", "remount,bind,ro", {data!r})
        salon("ask", "ask", "What is virtue?")
        salon("list", "history", "list")
    ''', tmp_path)

    ask, listing = results["ask"], results["list"]
    assert (ask["rc"], ask["stdout"]) == (0, ANSWER + "\n"), ask["stderr"]
    (warning,) = ask["stderr"].splitlines()
    # SQLite cannot even open a WAL database in a read-only folder (it needs its -shm file): the message names
    # the file, the cause and the way out.
    assert warning.startswith("salon: this exchange is not being saved: ") and data in warning, warning
    assert "read-only" in warning or "writable" in warning
    assert "--data-dir" in warning
    # Reading a read-only database is not a fault: the history is there to see, or a clear reason why not.
    if listing["rc"] == 0:
        assert "An older question" in listing["stdout"]
    else:
        assert listing["stderr"].startswith(f"salon: cannot open {data}/salon.db"), listing["stderr"]
        assert "writable" in listing["stderr"] and "--data-dir" in listing["stderr"]
    assert _fingerprint(home.data_dir) == before
    next_command_works(ollama_server, home)
    assert [title for title, _ in home.conversations()] == ["Still there?", "An older question"]


def test_an_immutable_database_file_answers_unsaved_and_keeps_its_bytes(
        home: Home, ollama_server: OllamaServer) -> None:
    if shutil.which("chattr") is None:
        pytest.skip("chattr (e2fsprogs) is not installed")
    _saved_conversation(home, ollama_server)
    path = home.data_dir / "salon.db"
    locked = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if locked.returncode != 0:
        pytest.skip(f"chattr +i is not possible here (needs root and a file system with attributes): "
                    f"{locked.stderr.strip()}")
    try:
        before = path.read_bytes()
        ollama_server.script(Scripted(text=ANSWER))
        done = salon("ask", "What is virtue?")
        _answered_unsaved(done, str(path), "read-only")
        assert path.read_bytes() == before
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    next_command_works(ollama_server, home)


# -- disk full ------------------------------------------------------------------------------------------------

# Run inside a private mount namespace: a tmpfs of a few hundred kB as the data folder, filled by a file.
_FILL = """
def fill(tiny, leave=0):
    with open(tiny + "/filler", "ab", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\\0" * 512)
        except OSError:
            pass
    os.truncate(tiny + "/filler", max(0, os.path.getsize(tiny + "/filler") - leave))

def keep(tiny, after):
    import glob, shutil
    os.makedirs(after)
    for name in glob.glob(tiny + "/salon.db*"):
        shutil.copy(name, after)
"""


def test_a_disk_that_fills_mid_reply_keeps_what_was_saved_says_so_once_and_prints_the_whole_reply(
        home: Home, ollama_server: OllamaServer, tmp_path: Path) -> None:
    require_mounts()
    tiny, after = tmp_path / "tiny", tmp_path / "after"
    tiny.mkdir()
    words = [f"w{i} " for i in range(60)]
    huge = "x" * 600_000
    ollama_server.script(
        Scripted(text="Saved while there was room."),
        # 1.5 s of small words (a checkpoint of them fits), then 600 kB the disk has no room for.
        Scripted(tokens=[*words, huge], rate=40),
        Scripted(text=ANSWER),
    )
    results = run_inside(["-m"], _FILL + f'''
tiny, after = {str(tiny)!r}, {str(after)!r}
sh("mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", tiny)
salon("first", "ask", "Before the disk filled")
# Room for the -shm index (32 kB) and the prompt, the reply's start and a checkpoint in the WAL; not for 600 kB.
fill(tiny, leave=224 * 1024)
salon("full", "ask", "--stream", "Write a lot")
os.remove(tiny + "/filler")  # the user frees some space, as told
salon("next", "ask", "--continue", "What is virtue?")
keep(tiny, after)
''', tmp_path, SALON_DATA_DIR=str(tiny))

    assert results["first"]["rc"] == 0, results["first"]["stderr"]
    full = results["full"]
    assert (full["rc"], full["stdout"]) == (0, "".join(words) + huge + "\n")  # the whole reply, printed
    (warning,) = full["stderr"].splitlines()
    assert warning.startswith(f"salon: the reply is not being saved: no space left to write {tiny}/salon.db")
    assert "free some disk space" in warning and "what was already saved is kept" in warning
    assert results["next"]["rc"] == 0 and results["next"]["stdout"] == ANSWER + "\n", results["next"]["stderr"]

    conn = sqlite3.connect(after / "salon.db")
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()
    with Store.open(after, secrets=()) as store:
        first, second = reversed(store.conversations())
        assert [m.text for m in store.messages(first.id)] == ["Before the disk filled", "Saved while there was room."]
        prompt, reply, asked, answered = store.messages(second.id)
    assert prompt.text == "Write a lot"
    # What the last checkpoint held is kept, marked interrupted; nothing of the part there was no room for.
    assert reply.status == "interrupted"
    assert reply.text and "".join(words).startswith(reply.text)
    assert (asked.text, answered.text, answered.status) == ("What is virtue?", ANSWER, "complete")


def _ask_with_no_room(ollama_server: OllamaServer, tmp_path: Path) -> dict:
    require_mounts()
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    ollama_server.script(Scripted(text="Saved while there was room."), Scripted(text=ANSWER))
    results = run_inside(["-m"], _FILL + f'''
tiny = {str(tiny)!r}
sh("mount", "-t", "tmpfs", "-o", "size=320k", "tmpfs", tiny)
salon("first", "ask", "Before the disk filled")
fill(tiny)
salon("no-room", "ask", "What is virtue?")
''', tmp_path, SALON_DATA_DIR=str(tiny))
    assert results["first"]["rc"] == 0, results["first"]["stderr"]
    return results["no-room"]


def test_a_disk_with_no_room_at_all_still_answers_with_a_warning(
        home: Home, ollama_server: OllamaServer, tmp_path: Path) -> None:
    no_room = _ask_with_no_room(ollama_server, tmp_path)
    assert (no_room["rc"], no_room["stdout"]) == (0, ANSWER + "\n"), no_room["stderr"]
    (warning,) = no_room["stderr"].splitlines()
    saving = "salon: this exchange is not being saved"
    assert warning.startswith(f"{saving}: no space left to write {tmp_path}/tiny/salon.db")


def test_a_disk_with_no_room_at_all_says_so_and_what_to_do(
        home: Home, ollama_server: OllamaServer, tmp_path: Path) -> None:
    (warning,) = _ask_with_no_room(ollama_server, tmp_path)["stderr"].splitlines()
    assert "no space left" in warning and "free some disk space" in warning, warning


# -- a folder where the file should be (issue 27, item 14) --------------------------------------------------------


def test_a_folder_where_the_database_should_be_is_named_as_the_cause(home: Home, ollama_server: OllamaServer
                                                                      ) -> None:
    path = home.data_dir / "salon.db"
    path.mkdir(parents=True)
    (path / "kept.txt").write_text("mine")
    ollama_server.script(Scripted(text=ANSWER))
    done = salon("ask", "What is virtue?")
    _answered_unsaved(done, f"{path} is a folder, not a database file", "Move the folder aside", "--data-dir")
    assert "check that its folder exists" not in done.stderr
    listing = salon("history", "list")
    assert listing.returncode == 1 and f"{path} is a folder, not a database file" in listing.stderr
    assert [p.name for p in path.iterdir()] == ["kept.txt"] and (path / "kept.txt").read_text() == "mine"

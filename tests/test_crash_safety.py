"""Nothing lost: real ``salon`` processes killed, interrupted and run side by side on one database."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from itertools import pairwise
from pathlib import Path

import pytest

from salon.store import Store
from tests.conftest import ROOT, run_salon, salon_env
from tests.servers.ollama import OllamaServer, Scripted

STORY = " ".join(f"word{i}" for i in range(400))


def _ask(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "salon", "ask", "--stream", *args], env=salon_env(), cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _saved_reply(data_dir: Path) -> tuple[str, str] | None:
    """(status, text) of the newest reply, read straight from the file as another program would."""
    path = data_dir / "salon.db"
    if not path.exists():
        return None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT status, text FROM messages WHERE role = 'assistant' ORDER BY pk DESC LIMIT 1"
                           ).fetchone()
    except sqlite3.OperationalError:
        return None  # not created yet
    finally:
        conn.close()
    return row


def _wait_for_words(data_dir: Path, words: int, timeout: float = 20) -> list[str]:
    """Poll the file until the streaming reply holds ``words`` words; returns each distinct text seen."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = _saved_reply(data_dir)
        if row and row[1] and (not seen or seen[-1] != row[1]):
            seen.append(row[1])
            if len(row[1].split()) >= words:
                return seen
        time.sleep(0.05)
    raise AssertionError(f"the reply was not checkpointed in time; saw {seen!r}")


def test_kill_9_mid_stream_keeps_the_prompt_and_the_partial_reply(ollama_server: OllamaServer,
                                                                  data_dir: Path) -> None:
    ollama_server.script(Scripted(text=STORY, rate=25))  # 16 s of reply
    process = _ask("Tell me a long story")
    try:
        checkpoints = _wait_for_words(data_dir, 50)
        assert _saved_reply(data_dir)[0] == "streaming"
    finally:
        process.kill()  # SIGKILL: no handler, no finally, no flush
        process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL
    # Checkpoints came repeatedly while streaming, each extending the last (about one a second).
    assert len(checkpoints) >= 2
    assert all(later.startswith(earlier) for earlier, later in pairwise(checkpoints))

    with Store.open(data_dir, secrets=()) as store:  # the next start
        (conversation,) = store.conversations()
        prompt, reply = store.messages(conversation.id)
    assert (prompt.role, prompt.text) == ("user", "Tell me a long story")
    assert reply.status == "interrupted"
    assert len(reply.text.split()) >= 50 and STORY.startswith(reply.text)
    assert (reply.agent_name, reply.model) == ("Assistant", "ollama/llama3.2")
    assert _saved_reply(data_dir)[0] == "interrupted"  # written into the file, for every other reader too

    shown = run_salon("history", "show")
    assert "Tell me a long story" in shown.stdout and "interrupted" in shown.stdout
    assert reply.text in shown.stdout


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_terminate_saves_the_partial_reply_as_interrupted(ollama_server: OllamaServer,
                                                                     data_dir: Path, stop: int) -> None:
    ollama_server.script(Scripted(text=STORY, rate=40))
    process = _ask("Tell me a long story")
    try:
        _wait_for_words(data_dir, 10)
        process.send_signal(stop)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
    # Ctrl-C is 130; a SIGTERM exits as the signal would have ended it, 128 + 15 (issue 13).
    assert process.returncode == (130 if stop == signal.SIGINT else 128 + stop)
    assert "interrupted" in err
    status, text = _saved_reply(data_dir)
    assert status == "interrupted"
    # The final write holds everything printed, not just the last checkpoint.
    assert text == out.rstrip("\n") and STORY.startswith(text)


def test_two_salon_processes_stream_into_one_database_at_once(ollama_server: OllamaServer,
                                                              data_dir: Path) -> None:
    release = threading.Event()
    ollama_server.set_default(Scripted(text=" ".join(f"w{i}" for i in range(60)), rate=30, hold_final=release))
    first, second = _ask("first prompt"), _ask("second prompt")
    try:
        _wait_for_words(data_dir, 5)
        # A third process reading meanwhile sees live replies as streaming, and leaves them be.
        listing = run_salon("history", "list")
        assert listing.returncode == 0, listing.stderr
        with Store.open(data_dir, secrets=()) as store:
            statuses = {m.status for c in store.conversations() for m in store.messages(c.id) if m.role == "assistant"}
            assert statuses == {"streaming"}
        release.set()
        results = [p.communicate(timeout=30) for p in (first, second)]
    finally:
        first.kill(), second.kill()
    assert [first.returncode, second.returncode] == [0, 0], results

    with Store.open(data_dir, secrets=()) as store:
        conversations = store.conversations()
        assert sorted(c.title for c in conversations) == ["first prompt", "second prompt"]
        for conversation in conversations:
            prompt, reply = store.messages(conversation.id)
            assert (prompt.text, reply.status, reply.output_tokens) == (conversation.title, "complete", 60)


_WRITER = """
import sys, time
from pathlib import Path
from salon.events import MessageCompleted, MessageCreated, MessageDelta
from salon.reply import Reply
from salon.store import Store
store = Store.open(Path(sys.argv[1]), secrets=())
conversation_id, name = sys.argv[2], sys.argv[3]
for turn in range(40):
    store.add_user_message(conversation_id, f"{name} prompt {turn}")
    message_id = f"msg_{name}{turn:04d}"
    recorder = store.recorder(conversation_id, clock=lambda: time.monotonic() * 50)  # checkpoint on every delta
    recorder.handle(MessageCreated("run", message_id, 0, "a", "A", "m", True))
    for piece in range(5):
        recorder.handle(MessageDelta("run", message_id, f"{name}-{turn}-{piece} "))
    recorder.handle(MessageCompleted("run", message_id, 0, "a", "A", Reply(text=f"{name} reply {turn}")))
store.close()
"""


def test_two_processes_writing_one_conversation_at_once_lose_nothing(data_dir: Path) -> None:
    with Store.open(data_dir, secrets=()) as store:
        conversation = store.create_conversation("assistant")
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(data_dir), conversation.id, name],
                                env=salon_env(), cwd=ROOT, stderr=subprocess.PIPE, text=True)
               for name in ("alpha", "beta")]
    errors = [w.communicate(timeout=120)[1] for w in writers]
    assert [w.returncode for w in writers] == [0, 0], errors

    with Store.open(data_dir, secrets=()) as store:
        messages = store.messages(conversation.id)
        assert store.message_count(conversation.id) == len(messages) == 160
        assert [m.seq for m in messages] == list(range(1, 161))  # one order, no gaps, no duplicates
        for name in ("alpha", "beta"):
            own = [m.text for m in messages if m.text.startswith(name)]
            expected = [t for turn in range(40) for t in (f"{name} prompt {turn}", f"{name} reply {turn}")]
            assert own == expected
        assert all(m.status == "complete" for m in messages)

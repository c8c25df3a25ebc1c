"""``kill -9`` of the chat app mid-reply, in a real terminal (tmux): the next start finds the prompt and the partial
reply, marked interrupted, and can go on from there."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import ROOT
from tests.faults.conftest import Home, assert_no_planted, salon_process_env
from tests.faults.test_ask_content_and_interrupts import STORY
from tests.servers.ollama import OllamaServer, Scripted

pytestmark = pytest.mark.terminal

# Narrower than the width at which the conversation list opens by itself: Ctrl+G then shows and focuses it.
WIDTH, HEIGHT = 100, 32


class Terminal:
    """A tmux server of the test's own, each ``salon`` in a session of it, with the test's environment."""

    def __init__(self, env: dict[str, str]) -> None:
        self.socket = f"salon-faults-{uuid.uuid4().hex[:8]}"
        self.env = env

    def tmux(self, *args: str) -> str:
        # The server takes its environment from the client that starts it: this test's, planted keys included.
        done = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], capture_output=True,
                              text=True, timeout=10, env=self.env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self, session: str) -> None:
        # exec: the pane's process is salon itself, so kill -9 of the pane's pid kills the app, not a shell.
        self.tmux("new-session", "-d", "-s", session, "-x", str(WIDTH), "-y", str(HEIGHT), "-c", str(ROOT),
                  f"exec {shlex.quote(sys.executable)} -m salon")

    def screen(self, session: str) -> str:
        text = self.tmux("capture-pane", "-p", "-t", session)
        assert_no_planted(text)
        return text

    def wait_for(self, session: str, *words: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen(session)
            if all(word in text for word in words):
                return text
            assert time.monotonic() < deadline, f"never showed {words}; the screen:\n{text}"
            time.sleep(0.1)

    def shows(self, session: str, *words: str) -> bool:
        text = self.screen(session)
        return all(word in text for word in words)

    def pid(self, session: str) -> int:
        return int(self.tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def terminal(home: Home, ollama_server: OllamaServer) -> Iterator[Terminal]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    shell = Terminal(salon_process_env(TERM="xterm-256color", TEXTUAL_ANIMATIONS="none", COLORTERM="truecolor"))
    try:
        yield shell
    finally:
        shell.close()


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited and been reaped (tmux reaps its panes' processes)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _streaming_words(home: Home) -> int:
    import sqlite3

    path = home.data_dir / "salon.db"
    if not path.exists():
        return 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT text FROM messages WHERE role = 'assistant' AND status = 'streaming'").fetchone()
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()
    return len(row[0].split()) if row else 0


def test_kill_9_of_the_chat_app_mid_reply_then_reopening_shows_the_prompt_and_the_partial_reply(
        home: Home, ollama_server: OllamaServer, terminal: Terminal) -> None:
    ollama_server.script(Scripted(text=STORY, rate=20), Scripted(text="And so it ends."))
    terminal.start("first")
    terminal.wait_for("first", "Write a message", "connected")
    terminal.tmux("send-keys", "-t", "first", "-l", "Tell me a long story")
    terminal.tmux("send-keys", "-t", "first", "Enter")
    deadline = time.monotonic() + 60
    while _streaming_words(home) < 20:  # a checkpoint of at least twenty words is on disk
        assert time.monotonic() < deadline, terminal.screen("first")
        time.sleep(0.1)
    pid = terminal.pid("first")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not _gone(pid):
        assert time.monotonic() < deadline, "the killed app never went away"
        time.sleep(0.05)

    prompt, reply = home.only_exchange()
    assert (prompt.text, reply.status) == ("Tell me a long story", "interrupted")
    assert len(reply.text.split()) >= 20 and STORY.startswith(reply.text)

    terminal.start("second")
    terminal.wait_for("second", "Write a message")
    terminal.tmux("send-keys", "-t", "second", "C-g")  # the conversation list
    terminal.wait_for("second", "Tell me a long story")
    # The text wraps: its last word stands for it. Enter again if the first came before the list took focus.
    opened = ("interrupted", reply.text.split()[-1])
    deadline = time.monotonic() + 60
    while not terminal.shows("second", *opened):
        assert time.monotonic() < deadline, terminal.screen("second")
        terminal.tmux("send-keys", "-t", "second", "Enter")
        for _ in range(30):
            if terminal.shows("second", *opened):
                break
            time.sleep(0.1)
    screen = terminal.screen("second")
    assert "Tell me a long story" in screen
    # And the conversation goes on from there, the partial reply sent as history.
    terminal.tmux("send-keys", "-t", "second", "-l", "Finish it")
    terminal.tmux("send-keys", "-t", "second", "Enter")
    terminal.wait_for("second", "And so it ends.")
    sent = [(m["role"], m["content"]) for m in ollama_server.requests[-1]["messages"] if m["role"] != "system"]
    assert sent == [("user", "Tell me a long story"), ("assistant", reply.text), ("user", "Finish it")]

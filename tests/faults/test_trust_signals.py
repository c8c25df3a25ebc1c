"""SIGTERM, SIGHUP and SIGINT mid-reply (issue 13, item 6; issue 27, item 13): the partial reply is kept as
interrupted, the terminal is given back as it was (read from tmux: alternate screen left, mouse tracking off, cursor
shown), and the exit status is 143, 129 or 130, for the chat app and for ``salon ask``. ``kill -INT`` to the chat
app used to exit 0 with the reply left unsaved (asyncio cancelled its main task)."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.faults.conftest import Home, assert_no_planted, popen_salon, salon_process_env, streaming_words
from tests.faults.texts import STORY
from tests.servers.ollama import OllamaServer, Scripted
from tests.tmux import Tmux

SIGNALS = [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)]
SIGNAL_IDS = ["SIGTERM", "SIGHUP", "SIGINT"]


def _wait_for_checkpoint(home: Home, words: int = 10) -> None:
    deadline = time.monotonic() + 60
    while streaming_words(home) < words:
        assert time.monotonic() < deadline, "no checkpoint of the streaming reply"
        time.sleep(0.05)


@pytest.mark.parametrize(("signum", "code"), SIGNALS, ids=SIGNAL_IDS)
def test_salon_ask_keeps_the_partial_reply_on_sigterm_sighup_and_sigint(
        home: Home, ollama_server: OllamaServer, signum: int, code: int) -> None:
    ollama_server.script(Scripted(text=STORY, rate=20))
    proc = popen_salon("ask", "--stream", "Tell me a long story")
    _wait_for_checkpoint(home)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert_no_planted(out, err)
    assert proc.returncode == code, err
    assert "interrupted" in err
    prompt, reply = home.only_exchange()
    assert (prompt.text, reply.status) == ("Tell me a long story", "interrupted")
    # Everything printed is kept: the stored text is at least what was on screen.
    assert STORY.startswith(reply.text) and reply.text.startswith(out.strip()[: len(reply.text)])
    assert len(reply.text.split()) >= 10


class ShellTerminal(Tmux):
    """Salon run by a shell in the pane, so the pane outlives it and its terminal state can be read afterwards."""

    def start_wrapped(self, session: str, status: Path) -> None:
        command = f"{shlex.quote(sys.executable)} -m salon; echo $? > {shlex.quote(str(status))}; exec sleep 600"
        self.tmux("new-session", "-d", "-s", session, "-x", str(self.width), "-y", str(self.height), "-c", str(ROOT),
                  f"sh -c {shlex.quote(command)}")

    def salon_pid(self, session: str) -> int:
        shell = self.pid(session)
        children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
        assert children, "salon is not running under the pane's shell"
        return int(children[0])

    def modes(self, session: str) -> dict[str, str]:
        fields = ["alternate_on", "mouse_any_flag", "mouse_standard_flag", "mouse_all_flag", "cursor_flag"]
        values = self.tmux("display-message", "-p", "-t", session, " ".join(f"#{{{f}}}" for f in fields)).split()
        return dict(zip(fields, values, strict=True))


@pytest.fixture
def shell_terminal(home: Home, ollama_server: OllamaServer) -> Iterator[ShellTerminal]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    shell = ShellTerminal(salon_process_env(TERM="xterm-256color", TEXTUAL_ANIMATIONS="none", COLORTERM="truecolor"),
                          width=100, height=32, check=assert_no_planted)
    try:
        yield shell
    finally:
        shell.close()


@pytest.mark.terminal
@pytest.mark.parametrize(("signum", "code"), SIGNALS, ids=SIGNAL_IDS)
def test_the_chat_app_on_sigterm_sighup_or_sigint_saves_the_partial_restores_the_terminal_and_exits_128_plus_n(
        home: Home, ollama_server: OllamaServer, shell_terminal: ShellTerminal, tmp_path: Path,
        signum: int, code: int) -> None:
    ollama_server.script(Scripted(text=STORY, rate=20))
    status = tmp_path / "status"
    shell_terminal.start_wrapped("chat", status)
    shell_terminal.wait_for("chat", "Write a message", "connected")
    running = shell_terminal.modes("chat")
    assert running["alternate_on"] == "1" and running["mouse_any_flag"] == "1"  # so the checks below can fail
    shell_terminal.tmux("send-keys", "-t", "chat", "-l", "Tell me a long story")
    shell_terminal.tmux("send-keys", "-t", "chat", "Enter")
    _wait_for_checkpoint(home)
    os.kill(shell_terminal.salon_pid("chat"), signum)

    deadline = time.monotonic() + 30
    while not status.exists() or not status.read_text().strip():
        assert time.monotonic() < deadline, shell_terminal.screen("chat")
        time.sleep(0.1)
    assert int(status.read_text()) == code
    after = shell_terminal.modes("chat")
    assert after == {"alternate_on": "0", "mouse_any_flag": "0", "mouse_standard_flag": "0",
                     "mouse_all_flag": "0", "cursor_flag": "1"}, after
    prompt, reply = home.only_exchange()
    assert (prompt.text, reply.status) == ("Tell me a long story", "interrupted")
    assert STORY.startswith(reply.text) and len(reply.text.split()) >= 10


@pytest.mark.terminal
def test_sigint_with_a_ten_megabyte_reply_in_flight_keeps_the_partial_and_exits_130(
        home: Home, ollama_server: OllamaServer, shell_terminal: ShellTerminal, tmp_path: Path) -> None:
    # The server sends far faster than the chat app draws, so a backlog is in flight when the signal comes: the
    # reply's worker then ended cancelled, and the quit that waited for it raised instead of exiting 130 (exit 1).
    piece = "lorem ipsum " * 85
    hold = threading.Event()  # the reply stays in flight however fast the app reads it
    ollama_server.script(Scripted(tokens=[piece] * 10_240, hold_final=hold))
    status = tmp_path / "status"
    shell_terminal.start_wrapped("chat", status)
    shell_terminal.wait_for("chat", "Write a message", "connected")
    shell_terminal.tmux("send-keys", "-t", "chat", "-l", "Flood me")
    shell_terminal.tmux("send-keys", "-t", "chat", "Enter")
    _wait_for_checkpoint(home, words=400_000)  # two megabytes or so: well into the reply, with more behind it
    os.kill(shell_terminal.salon_pid("chat"), signal.SIGINT)

    deadline = time.monotonic() + 120
    while not status.exists() or not status.read_text().strip():
        assert time.monotonic() < deadline, shell_terminal.screen("chat")
        time.sleep(0.1)
    assert int(status.read_text()) == 130, shell_terminal.screen("chat")
    prompt, reply = home.only_exchange()
    assert (prompt.text, reply.status) == ("Flood me", "interrupted")
    assert (piece * 10_240).startswith(reply.text) and len(reply.text.split()) >= 400_000
    hold.set()

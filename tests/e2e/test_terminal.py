"""The real ``salon`` command in a real terminal (tmux), talking to the Ollama test server."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from salon.store import Store
from tests.conftest import salon_env
from tests.servers.ollama import OllamaServer, Scripted

pytestmark = [
    pytest.mark.terminal,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"),
]

REPLY = "Virtue is **knowledge**, said Socrates.\n\n- It can be taught.\n- It can be *examined*.\n"


class Terminal:
    """A detached tmux session of 120x40 on its own tmux server, so nobody's tmux is touched."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.socket = f"salon-test-{uuid.uuid4().hex[:8]}"
        self.session = "salon"
        assignments = [f"{key}={value}" for key, value in env.items()]
        shell = "exec env " + shlex.join([*assignments, *command])
        self._tmux("new-session", "-d", "-x", "120", "-y", "40", "-s", self.session, shell)

    def _tmux(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        if result.returncode:
            raise RuntimeError(f"tmux {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.session)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", self.session, "-l", text)

    def press(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.session, *keys)

    def wait_for(self, condition: Callable[[str], bool], timeout: float = 30.0, what: str = "") -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if condition(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen shows:\n{screen}")
            time.sleep(0.1)

    def alive(self) -> bool:
        """Whether the command still runs (its session ends with it)."""
        return subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", self.session],
                              capture_output=True, timeout=10).returncode == 0

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


def salon_command() -> list[str]:
    script = Path(sys.executable).with_name("salon")
    return [str(script)] if script.exists() else [sys.executable, "-m", "salon"]


@pytest.fixture
def terminal(ollama_server: OllamaServer) -> Iterator[Callable[..., Terminal]]:
    opened: list[Terminal] = []

    def open_terminal(*args: str) -> Terminal:
        env = salon_env(OLLAMA_HOST=ollama_server.host, TERM="xterm-256color", COLORTERM="truecolor")
        env = {key: value for key, value in env.items() if key in _PASSED or key.startswith(("SALON_", "OLLAMA_"))}
        opened.append(Terminal([*salon_command(), *args], env))
        return opened[-1]

    yield open_terminal
    for terminal in opened:
        terminal.close()


_PASSED = {"PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "TERM", "COLORTERM", "TEXTUAL_ANIMATIONS", "VIRTUAL_ENV"}


def test_type_a_prompt_and_read_the_final_message(terminal, ollama_server: OllamaServer, data_dir: Path):
    ollama_server.script(Scripted(text=REPLY, rate=50))
    term = terminal("--agent", "socrates")
    term.wait_for(lambda s: "Ask Socrates" in s and "connected" in s, what="the welcome view")
    term.type("What is virtue?")
    term.press("Enter")
    screen = term.wait_for(lambda s: "Socrates · llama3.2 · 26 in / 16 out" in s, what="the final message's footer")
    assert "Virtue is knowledge, said Socrates." in screen
    assert "It can be taught." in screen and "It can be examined." in screen
    assert "What is virtue?" in screen
    assert ollama_server.requests[-1]["messages"][-1] == {"role": "user", "content": "What is virtue?"}
    term.press("C-q")
    deadline = time.monotonic() + 10
    while term.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not term.alive(), "ctrl+q quits"
    # Kept on disk by the process that just quit.
    with Store.open(data_dir) as store:
        [conversation] = store.conversations()
        assert [m.text for m in store.messages(conversation.id)] == ["What is virtue?", REPLY]


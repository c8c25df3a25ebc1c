"""The real ``salon`` command in a real terminal (tmux), talking to the Ollama test server."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from salon.store import Store
from tests.conftest import salon_env
from tests.servers.ollama import OllamaServer, Scripted
from tests.tmux import Tmux

pytestmark = [
    pytest.mark.terminal,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"),
]

REPLY = "Virtue is **knowledge**, said Socrates.\n\n- It can be taught.\n- It can be *examined*.\n"


def salon_command() -> list[str]:
    script = Path(sys.executable).with_name("salon")
    return [str(script)] if script.exists() else [sys.executable, "-m", "salon"]


@pytest.fixture
def terminal(ollama_server: OllamaServer) -> Iterator[Tmux]:
    env = salon_env(OLLAMA_HOST=ollama_server.host, TERM="xterm-256color", COLORTERM="truecolor")
    env = {key: value for key, value in env.items() if key in _PASSED or key.startswith(("SALON_", "OLLAMA_"))}
    term = Tmux(env)
    try:
        yield term
    finally:
        term.close()


_PASSED = {"PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "TERM", "COLORTERM", "TEXTUAL_ANIMATIONS", "VIRTUAL_ENV"}


def test_type_a_prompt_and_read_the_final_message(terminal, ollama_server: OllamaServer, data_dir: Path):
    ollama_server.script(Scripted(text=REPLY, rate=50))
    term = terminal
    term.start("salon", [*salon_command(), "--agent", "socrates"])
    term.wait_for("salon", "Ask Socrates", "connected", timeout=30, what="the welcome view")
    term.type("salon", "What is virtue?")
    term.press("salon", "Enter")
    screen = term.wait_for("salon", "Socrates · llama3.2 · 26 in / 16 out", timeout=30,
                           what="the final message's footer")
    assert "Virtue is knowledge, said Socrates." in screen
    assert "It can be taught." in screen and "It can be examined." in screen
    assert "What is virtue?" in screen
    assert ollama_server.requests[-1]["messages"][-1] == {"role": "user", "content": "What is virtue?"}
    term.press("salon", "C-q")
    deadline = time.monotonic() + 10
    while term.alive("salon") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not term.alive("salon"), "ctrl+q quits"
    # Kept on disk by the process that just quit.
    with Store.open(data_dir) as store:
        [conversation] = store.conversations()
        assert [m.text for m in store.messages(conversation.id)] == ["What is virtue?", REPLY]


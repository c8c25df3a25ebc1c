"""The real ``salon`` command in a real terminal (tmux), talking to the Ollama test server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from salon.store import Store
from tests.e2e.conftest import salon_command
from tests.servers.ollama import OllamaServer, Scripted

pytestmark = [
    pytest.mark.terminal,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"),
]

REPLY = "Virtue is **knowledge**, said Socrates.\n\n- It can be taught.\n- It can be *examined*.\n"


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
    assert term.wait_gone("salon"), "ctrl+q quits"
    # Kept on disk by the process that just quit.
    with Store.open(data_dir) as store:
        [conversation] = store.conversations()
        assert [m.text for m in store.messages(conversation.id)] == ["What is virtue?", REPLY]


"""What the real-terminal tests share: the ``salon`` command and a tmux server of the test's own, on the test's
folders and the Ollama test server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import salon_env
from tests.servers.ollama import OllamaServer
from tests.tmux import Tmux


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

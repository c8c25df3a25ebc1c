"""Start-up: the window comes first; the Ollama host, the database and heavy modules come after, or never."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from salon.tui.widgets import ConversationList
from tests.conftest import ROOT, salon_env
from tests.tui.conftest import make_app, screen_text, status_line


@pytest.fixture
def silent_host() -> Iterator[str]:
    """A host that accepts connections and never answers: any wait on it shows."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"127.0.0.1:{listener.getsockname()[1]}"


async def test_the_window_is_usable_before_ollama_answers(silent_host: str, data_dir):
    app = make_app(None, data_dir, host=silent_host, agent="socrates", show_conversations=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        shown = screen_text(app)
        assert "Ask Socrates" in shown
        assert "connecting…" in status_line(app)
        await pilot.press("h", "i")
        assert app.chat_screen.composer.text == "hi"
        # The database opened after the first frame, without waiting for Ollama either.
        assert app.services.store is not None
        assert "No conversations yet" in screen_text(app)
        assert isinstance(app.screen.query_one(ConversationList), ConversationList)


def test_importing_the_app_loads_no_provider_sdk_and_no_database():
    code = (
        "import sys\n"
        "import salon.tui.app, salon.tui.screens.chat\n"
        "heavy = [m for m in ('litellm', 'ollama', 'httpx', 'salon.store', 'sqlite3', 'rich.markdown',"
        " 'textual.widgets._markdown', 'markdown_it') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=salon_env(),
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_an_ollama_chat_never_imports_litellm(data_dir):
    # In a fresh interpreter: other tests of this process may have imported it for their own reasons.
    code = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from tests.servers.ollama import OllamaServer, Scripted\n"
        "from tests.tui.conftest import make_app, send, settle\n"
        "async def main():\n"
        "    with OllamaServer() as server:\n"
        "        server.script(Scripted(text='hi'))\n"
        f"        app = make_app(server, Path({str(data_dir)!r}))\n"
        "        async with app.run_test() as pilot:\n"
        "            await settle(app, pilot)\n"
        "            await send(app, pilot, 'hello')\n"
        "            await settle(app, pilot)\n"
        "    print('litellm' in sys.modules)\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=salon_env(TEXTUAL_ANIMATIONS="none"), cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_an_unknown_agent_fails_before_any_window():
    from tests.conftest import run_salon

    result = run_salon("--agent", "nosuch")
    assert result.returncode == 1
    assert "no agent named 'nosuch'" in result.stderr
    assert "\x1b[" not in result.stdout, "no terminal UI was started"

"""Approving a tool call in a real terminal: the real ``salon`` command in tmux, the user's config naming the
published ``mcp-server-time``, the Ollama test server streaming the model's call."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from salon.store import Store
from tests.e2e.conftest import salon_command
from tests.servers.ollama import OllamaServer, Scripted
from tests.tools.conftest import time_server, write_agent, write_config
from tests.tui.tools_apps import add_tools_model

pytestmark = [
    pytest.mark.terminal,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"),
]


def test_approve_a_tool_call_in_the_terminal(terminal, ollama_server: OllamaServer, config_dir: Path,
                                             data_dir: Path):
    agents = config_dir / "agents"
    agents.mkdir()
    write_agent(agents, "clock", add_tools_model(ollama_server), ["time.*"])
    write_config(config_dir, ollama_server.host, time_server())
    call = {"name": "get_current_time", "arguments": {"timezone": "Asia/Tokyo"}}
    ollama_server.script(Scripted(text="Let me check.", tool_calls=[call]),
                         Scripted(text="It is late evening in Tokyo."))
    term = terminal
    term.start("salon", [*salon_command(), "--agent", "clock"])
    term.wait_for("salon", "connected", timeout=30, what="the chat")
    term.type("salon", "What time is it in Tokyo?")
    term.press("salon", "Enter")
    screen = term.wait_for("salon", "Allow this tool to run?", timeout=60, what="the approval dialog")
    assert "Clock wants to call get_current_time on the MCP server time" in " ".join(screen.split())
    assert '"timezone": "Asia/Tokyo"' in screen
    assert len(ollama_server.requests) == 1, "the tool ran (and the model heard of it) before the user allowed it"
    # The dialog answers keys only once it has been on screen a moment: press until it takes the answer.
    deadline = time.monotonic() + 30
    while "Allow this tool to run?" in term.screen("salon"):
        assert time.monotonic() < deadline, "the dialog never took the answer"
        term.press("salon", "o")
        time.sleep(0.3)
    screen = term.wait_for("salon", "It is late evening in Tokyo.", "✓ result", timeout=60, what="the answer")
    assert "⚙ time · get_current_time" in screen
    term.press("salon", "C-q")
    assert term.wait_gone("salon"), "ctrl+q quits"
    with Store.open(data_dir) as store:
        [conversation] = store.conversations()
        reply = store.messages(conversation.id)[1]
        [call] = reply.tool_calls
        assert (call.server, call.tool, call.status) == ("time", "get_current_time", "completed")
        assert json.loads(call.output or "")["timezone"] == "Asia/Tokyo"

"""The chat app on a user's config that names MCP servers, and the waits its tool tests share."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from salon.agents.definition import load_agents
from salon.api import Session
from salon.config.read import load_config
from salon.tui.app import SalonApp
from salon.tui.screens.approval import ApprovalScreen
from salon.tui.widgets.tool_call import ToolCallRow
from tests.servers.ollama import OllamaServer
from tests.tools.conftest import write_config
from tests.tui.conftest import ROOT, ManualClock, wait_for

ASK_TIMEOUT = 60.0
"""Seconds for an MCP server to start (a Python process importing the SDK) on a loaded machine."""


def add_tools_model(server: OllamaServer) -> str:
    """A model on the test server whose capabilities include tools."""
    server.add_model("qwen3", "completion", "tools")
    return "ollama/qwen3"


def tools_app(config_dir: Path, agents_dir: Path, data_dir: Path, server: OllamaServer, agent: str,
              *tables: str, **options: object) -> SalonApp:
    """The real app on the user's config naming MCP servers, with the bundled agents and the test's own."""
    config = load_config(write_config(config_dir, server.host, *tables))
    assert not config.warnings, config.warnings
    session = Session(config, load_agents([ROOT / "agents", agents_dir]))
    options.setdefault("show_conversations", False)
    return SalonApp(session, agent_id=agent, data_dir=data_dir, clock=ManualClock(),
                    **options)  # type: ignore[arg-type]


async def dialog(app: SalonApp, pilot: Pilot) -> ApprovalScreen:
    """The approval dialog, once it is on screen and answers keys."""
    await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen), timeout=ASK_TIMEOUT, what="the dialog")
    screen = app.screen
    assert isinstance(screen, ApprovalScreen)
    await wait_for(pilot, lambda: screen.armed, what="the dialog armed")
    return screen


def rows(app: SalonApp) -> list[ToolCallRow]:
    return list(app.chat_screen.query(ToolCallRow))

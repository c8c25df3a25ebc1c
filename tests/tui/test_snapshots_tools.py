"""What tool calls look like, kept as SVG snapshots: the approval dialog over a reply, and a reply with its tool call
collapsed and expanded. The lab MCP server's clock gives a fixed time, the test server a fixed port, the clock stands
still (see test_snapshots.py)."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from salon.tui.app import SalonApp
from tests.servers.ollama import OllamaServer, Scripted
from tests.tools.conftest import lab_server, write_agent
from tests.tui.conftest import SNAPSHOT_SIZE as SIZE
from tests.tui.conftest import send, settle, wait_for
from tests.tui.tools_apps import ASK_TIMEOUT, add_tools_model, dialog, rows, tools_app

TOKYO = {"timezone": "Asia/Tokyo"}


def clock_app(server: OllamaServer, config_dir: Path, agents_dir: Path, data_dir: Path, lab_log: Path) -> SalonApp:
    write_agent(agents_dir, "clock", add_tools_model(server), ["lab.clock"],
                'description = "Tells the time anywhere."\n')
    server.script(Scripted(text="Let me look at the clock.", tool_calls=[{"name": "clock", "arguments": TOKYO}],
                           usage=False),
                  Scripted(text="It is **23:30** in Tokyo: late evening.", usage=False))
    return tools_app(config_dir, agents_dir, data_dir, server, "clock", lab_server(lab_log), cursor_blink=False)


async def answered(pilot: Pilot) -> None:
    app = pilot.app
    await settle(app, pilot)
    await send(app, pilot, "What time is it in Tokyo?")
    await dialog(app, pilot)
    await pilot.press("o")
    await wait_for(pilot, lambda: not app.chat_screen.view.busy, timeout=ASK_TIMEOUT, what="the reply done")
    await settle(app, pilot)


def test_approval_dialog(snap_compare, snapshot_server, config_dir, agents_dir, data_dir, lab_log):
    app = clock_app(snapshot_server, config_dir, agents_dir, data_dir, lab_log)

    async def asking(pilot: Pilot) -> None:
        await settle(pilot.app, pilot)
        await send(pilot.app, pilot, "What time is it in Tokyo?")
        await dialog(pilot.app, pilot)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=asking)


def test_tool_call_collapsed(snap_compare, snapshot_server, config_dir, agents_dir, data_dir, lab_log):
    app = clock_app(snapshot_server, config_dir, agents_dir, data_dir, lab_log)
    assert snap_compare(app, terminal_size=SIZE, run_before=answered)


def test_tool_call_expanded(snap_compare, snapshot_server, config_dir, agents_dir, data_dir, lab_log):
    app = clock_app(snapshot_server, config_dir, agents_dir, data_dir, lab_log)

    async def expanded(pilot: Pilot) -> None:
        await answered(pilot)
        await pilot.press("tab", "up", "t")  # the messages, the reply with the call, its results
        await wait_for(pilot, lambda: all(row.expanded for row in rows(pilot.app)), what="the result expanded")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=expanded)

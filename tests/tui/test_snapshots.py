"""What the chat looks like, kept as SVG snapshots (``pytest --snapshot-update`` rewrites them; look before you
commit). Every figure on screen is fixed: a clock that moves only when told, replies without server timings, a
test server on a fixed port, no cursor blink."""

from __future__ import annotations

from textual.pilot import Pilot

from salon.tui.widgets import LiveMessage
from tests.servers.ollama import Scripted
from tests.tui.conftest import SNAPSHOT_REPLY as REPLY
from tests.tui.conftest import SNAPSHOT_SIZE as SIZE
from tests.tui.conftest import ManualClock, send, settle, wait_for
from tests.tui.conftest import snapshot_app as app_for

STALL = 21
"""Tokens of REPLY sent before the staged mid-stream server goes quiet: it stops inside the list."""


async def _wait_written(pilot: Pilot, text: str) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.screen.query(LiveMessage), what="the live reply")
    live = app.screen.query_one(LiveMessage)
    await wait_for(pilot, lambda: live.written == text, what=f"{text!r} written")
    await pilot.pause()


def _prefix(tokens: int) -> str:
    from tests.servers.ollama import tokenize

    return "".join(tokenize(REPLY)[:tokens])


def test_welcome(snap_compare, snapshot_server, data_dir):
    app = app_for(snapshot_server, data_dir, agent="socrates")

    async def ready(pilot: Pilot) -> None:
        await settle(pilot.app, pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_reply_mid_stream(snap_compare, snapshot_server, data_dir):
    snapshot_server.script(Scripted(text=REPLY, stall_after=STALL, usage=False))
    app = app_for(snapshot_server, data_dir, agent="socrates")

    async def mid_stream(pilot: Pilot) -> None:
        await settle(pilot.app, pilot)
        await send(pilot.app, pilot, "What is virtue?")
        await _wait_written(pilot, _prefix(STALL))

    assert snap_compare(app, terminal_size=SIZE, run_before=mid_stream)


def test_progress_line_mid_stream(snap_compare, snapshot_server, data_dir):
    snapshot_server.script(Scripted(text=REPLY, stall_after=STALL, usage=False))
    clock = ManualClock()
    app = app_for(snapshot_server, data_dir, clock, agent="quiet-drafter")

    async def mid_stream(pilot: Pilot) -> None:
        await settle(pilot.app, pilot)
        await send(pilot.app, pilot, "Draft an essay on virtue")
        await wait_for(pilot, lambda: pilot.app.screen.query(LiveMessage))
        live = pilot.app.screen.query_one(LiveMessage)
        await wait_for(pilot, lambda: live.deltas == STALL, what="the staged tokens")
        clock.advance(3.0)
        await wait_for(pilot, lambda: "3.0 s" in str(live.query_one(".body").render()), what="a redraw")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=mid_stream)


def test_reply_after_the_final_swap(snap_compare, snapshot_server, data_dir):
    snapshot_server.script(Scripted(text=REPLY, usage=False))
    app = app_for(snapshot_server, data_dir, agent="socrates")

    async def finished(pilot: Pilot) -> None:
        await settle(pilot.app, pilot)
        await send(pilot.app, pilot, "What is virtue?")
        await settle(pilot.app, pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=finished)


def test_two_step_dialogue(snap_compare, snapshot_server, data_dir):
    snapshot_server.script(Scripted(text="And what, friend, do *you* take justice to be?", usage=False),
                           Scripted(text="Picture a cave, and prisoners who see only shadows on its wall.",
                                    usage=False))
    app = app_for(snapshot_server, data_dir, agent="socrates-then-plato")

    async def dialogue(pilot: Pilot) -> None:
        await settle(pilot.app, pilot)
        await send(pilot.app, pilot, "What is justice?")
        await settle(pilot.app, pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=dialogue)


def test_agent_picker(snap_compare, snapshot_server, data_dir):
    app = app_for(snapshot_server, data_dir)

    async def picker(pilot: Pilot) -> None:
        await settle(pilot.app, pilot)
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: pilot.app.screen.id == "agent-picker")
        await pilot.press("p", "l")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=picker)


def test_server_down_banner(snap_compare, data_dir):
    app = app_for(None, data_dir, host="127.0.0.1:9")

    async def down(pilot: Pilot) -> None:
        await settle(pilot.app, pilot)
        pilot.app.chat_screen.composer.insert("Is anyone there?")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=down)


def test_interrupted_reply(snap_compare, snapshot_server, data_dir):
    snapshot_server.script(Scripted(text=REPLY, stall_after=STALL, usage=False))
    app = app_for(snapshot_server, data_dir, agent="socrates")

    async def interrupted(pilot: Pilot) -> None:
        await settle(pilot.app, pilot)
        await send(pilot.app, pilot, "What is virtue?")
        await _wait_written(pilot, _prefix(STALL))
        await pilot.press("escape")
        await settle(pilot.app, pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=interrupted)

"""The chat in every bundled theme, and the settings and help screens, kept as SVG snapshots
(``pytest --snapshot-update`` rewrites them; look at them before they are committed). Fixed as in
``test_snapshots.py``: a clock that moves only when told, a test server on a fixed port, no cursor blink."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from tests.servers.ollama import Scripted
from tests.tui.conftest import ROOT, send, settle, wait_for
from tests.tui.conftest import SNAPSHOT_REPLY as REPLY
from tests.tui.conftest import SNAPSHOT_SIZE as SIZE
from tests.tui.conftest import snapshot_app as app_for

BUNDLED_THEMES = sorted(path.stem for path in (ROOT / "themes").glob("*.toml"))


def test_every_bundled_theme_is_snapshotted():
    assert {"salon-dark", "salon-light", "salon-high-contrast"} <= set(BUNDLED_THEMES) and len(BUNDLED_THEMES) >= 4


@pytest.mark.parametrize("theme", BUNDLED_THEMES)
def test_chat_with_a_finished_reply_in_theme(snap_compare, snapshot_server, data_dir, theme):
    snapshot_server.script(Scripted(text=REPLY, usage=False))
    app = app_for(snapshot_server, data_dir, agent="socrates")

    async def finished(pilot: Pilot) -> None:
        pilot.app.theme = theme
        await settle(pilot.app, pilot)
        await send(pilot.app, pilot, "What is virtue?")
        await settle(pilot.app, pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=finished)


def test_settings_screen(snap_compare, snapshot_server, data_dir):
    app = app_for(snapshot_server, data_dir)

    async def settings(pilot: Pilot) -> None:
        await settle(pilot.app, pilot)
        await pilot.press("f3")
        await wait_for(pilot, lambda: pilot.app.screen.id == "settings-screen")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=settings)


def test_help_screen(snap_compare, snapshot_server, data_dir):
    app = app_for(snapshot_server, data_dir)

    async def help_screen(pilot: Pilot) -> None:
        await settle(pilot.app, pilot)
        await pilot.press("f1")
        await wait_for(pilot, lambda: pilot.app.screen.id == "help-screen")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=help_screen)

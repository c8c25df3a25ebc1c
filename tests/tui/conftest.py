"""What the TUI tests share: an app on the Ollama test server, a clock that stands still, the screen as text."""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from salon.agents.definition import load_agents
from salon.api import Session
from salon.config.read import Config
from salon.tui.app import SalonApp
from tests.servers.ollama import OllamaServer

ROOT = Path(__file__).resolve().parents[2]
SIZE = (120, 40)


class ManualClock:
    """A clock that moves only when told: elapsed times and tok/s on screen stay the same on every run."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_app(server: OllamaServer | None, data_dir: Path, *, agent: str | None = None, model: str | None = None,
             host: str | None = None, clock: Callable[[], float] | None = None, **options: object) -> SalonApp:
    """The real app on the test server (or ``host``), with the bundled agents and this test's data folder."""
    config = Config(ollama_host=host or (server.host if server else "127.0.0.1:9"), read_timeout=10.0,
                    connect_timeout=2.0)
    session = Session(config, catalog=load_agents([ROOT / "agents"]))
    options.setdefault("show_conversations", False)
    return SalonApp(session, agent_id=agent, model=model, data_dir=data_dir, clock=clock or ManualClock(),
                    **options)  # type: ignore[arg-type]


@pytest.fixture
def server(ollama_server: OllamaServer) -> OllamaServer:
    return ollama_server


@pytest.fixture
def lab_log(tmp_path: Path) -> Path:
    """Where the lab MCP server (tests/servers/mcp_tools.py) writes each call it ran."""
    return tmp_path / "lab-calls.log"


@pytest.fixture
def agents_dir(tmp_path: Path) -> Path:
    """A folder for the test's own agent files."""
    folder = tmp_path / "agents"
    folder.mkdir()
    return folder


async def settle(app: SalonApp, pilot: Pilot) -> None:
    """Wait for every worker (replies, the connection check) and one more frame."""
    await app.workers.wait_for_complete()
    await pilot.pause()


async def send(app: SalonApp, pilot: Pilot, text: str) -> None:
    """Type ``text`` in the composer as a user would (newlines with ctrl+j) and press Enter."""
    app.chat_screen.composer.focus()
    for index, line in enumerate(text.split("\n")):
        if index:
            await pilot.press("ctrl+j")
        app.chat_screen.composer.insert(line)
    await pilot.press("enter")


async def wait_for(pilot: Pilot, condition: Callable[[], object], timeout: float = 60.0, what: str = "") -> None:
    """Poll ``condition`` between frames until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.02)


_TEXT = re.compile(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)" textLength="[\d.]+"[^>]*>([^<]*)</text>')


def screen_lines(app: SalonApp) -> list[str]:
    """What the terminal shows, one string per row, read back from Textual's own screenshot."""
    svg = app.export_screenshot()
    rows: dict[float, dict[int, str]] = {}
    for x, y, text in _TEXT.findall(svg):
        text = html.unescape(text).replace("\xa0", " ")
        rows.setdefault(float(y), {})[round(float(x) / 12.2)] = text
    lines = []
    for y in sorted(rows):
        line: list[str] = []
        for column in sorted(rows[y]):
            if len(line) < column:
                line.extend(" " * (column - len(line)))
            piece = rows[y][column]
            line[column:column + len(piece)] = list(piece)
        lines.append("".join(line).rstrip())
    return lines


def status_line(app: SalonApp) -> str:
    """The status line as the terminal shows it, found at its widget's row: the footer under it may fill in a frame
    or more later on a loaded machine, so "the second line from the bottom" is not always it."""
    from salon.tui.widgets.status import StatusLine

    lines = screen_lines(app)
    widget = app.screen.query_one(StatusLine)
    assert len(lines) == app.size.height, "the screenshot lost a row"
    return lines[widget.region.y]


def screen_text(app: SalonApp) -> str:
    return "\n".join(screen_lines(app))


def toast_texts(app: SalonApp) -> list[str]:
    """The text of each notification on screen, read from the screen inside the toast's own box."""
    # Textual exports no public name for the toast widget; the query is by its type, in this one place.
    from textual.widgets._toast import Toast

    lines = screen_lines(app)
    texts = []
    for toast in app.screen.query(Toast):
        box = toast.region
        rows = lines[box.y:box.y + box.height]
        texts.append("\n".join(row[box.x:box.x + box.width] for row in rows))
    return texts


def unwrapped(text: str) -> str:
    """Without line breaks, spaces or a box's edges: what a folded line reads as, wherever it folded."""
    return "".join(text.translate({ord(c): " " for c in "│▌▕▏"}).split())


# -- the snapshot tests' fixed set-up -------------------------------------------------------------------------

SNAPSHOT_SIZE = (110, 34)
SNAPSHOT_PORT = 47_213
"""The status line names the Ollama host, port included: a fixed one keeps the pictures the same."""

PORT_WAIT = 300.0
"""Seconds to wait for the fixed port: another test run on the same machine (a second checkout, CI sharing the
host) holds it while its own snapshot tests run; waiting for it is a condition, failing at once was a race."""


def _snapshot_port_server() -> OllamaServer:
    deadline = time.monotonic() + PORT_WAIT
    while isinstance(server := _bind_snapshot_port(), OSError):
        if time.monotonic() > deadline:
            pytest.fail(f"port {SNAPSHOT_PORT}, which the snapshots show, stayed taken for {PORT_WAIT:.0f} s: {server}")
        time.sleep(0.2)
    return server


def _bind_snapshot_port() -> OllamaServer | OSError:
    try:
        return OllamaServer(SNAPSHOT_PORT)
    except OSError as error:
        return error


SNAPSHOT_REPLY = ("Virtue, said Socrates, is **knowledge**; and knowledge can be taught.\n\n"
                  "- Courage is knowing what to fear.\n- Temperance is knowing what to want.\n\n"
                  "```python\ndef virtue(soul):\n    return soul.knows('the good')\n```\n\n"
                  "Shall we test this with an example?")


@pytest.fixture
def snapshot_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[OllamaServer]:
    server = _snapshot_port_server()
    with server:
        monkeypatch.setenv("OLLAMA_HOST", server.host)
        yield server


def snapshot_app(server: OllamaServer | None, data_dir: Path, clock: ManualClock | None = None, **options) -> SalonApp:
    return make_app(server, data_dir, clock=clock or ManualClock(), cursor_blink=False, **options)

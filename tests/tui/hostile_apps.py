"""Apps and checks the untrusted-text tests share: an app whose agents, models and files hold hostile text."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import tomli_w
from textual.pilot import Pilot

from salon.agents.definition import load_agents
from salon.api import Session
from salon.config.read import Config
from salon.store import Store
from salon.store.transcript import import_json
from salon.tui.app import SalonApp
from tests.hostile import forbidden
from tests.servers.ollama import OllamaServer
from tests.tui.conftest import ROOT, ManualClock, screen_lines, screen_text

SIZE = (120, 40)


def hostile_app(server: OllamaServer, data_dir: Path, tmp_path: Path, *, name: str | None = None,
                agent_id: str = "assistant", show_conversations: bool = False, **config: object) -> SalonApp:
    """The real app on the test server; ``name`` adds an agent file ``guest.toml`` with that name and runs it."""
    folders = [ROOT / "agents"]
    if name is not None:
        agents = tmp_path / "shared-agents"
        agents.mkdir(exist_ok=True)
        (agents / "guest.toml").write_text(tomli_w.dumps({"name": name, "model": "ollama/llama3.2",
                                                          "description": f"Shared: {name}"}))
        folders.append(agents)
        agent_id = "guest"
    settings = dataclasses.replace(Config(ollama_host=server.host, read_timeout=10.0, connect_timeout=2.0),
                                   **config)  # type: ignore[arg-type]
    session = Session(settings, catalog=load_agents(folders))
    return SalonApp(session, agent_id=agent_id, data_dir=data_dir, clock=ManualClock(),
                    show_conversations=show_conversations)


def flat(app: SalonApp) -> str:
    """The screen's words in order, without box borders or line breaks."""
    return " ".join(screen_text(app).translate({ord(c): " " for c in "│▌▕▏╭╮╰╯─"}).split())


def assert_inert(app: SalonApp) -> str:
    """The screen as text, checked for anything a terminal would obey."""
    svg = app.export_screenshot()
    assert forbidden(svg.replace("\n", "")) == [], "a control character reached the terminal"
    return screen_text(app)


async def click_on(pilot: Pilot, app: SalonApp, needle: str) -> None:
    """Click every character of ``needle`` where the screen shows it (a title, a subtitle, a toast)."""
    for row, line in enumerate(screen_lines(app)):
        column = line.find(needle)
        if column >= 0:
            for offset in range(len(needle)):
                await pilot.click(offset=(column + offset, row))
                await pilot.pause()
            return
    raise AssertionError(f"{needle!r} is not on screen:\n{screen_text(app)}")


def assert_running(app: SalonApp) -> None:
    assert app.is_running and app.return_code is None, "the app quit"


def export_with(data_dir: Path, **fields: str) -> Path:
    """A Salon export file of one conversation whose assistant message carries ``fields``."""
    message = {"id": "msg_reply", "role": "assistant", "status": "complete", "created_at": 1_700_000_001,
               "text": "Fresh bread.", "agent_id": "baker", "agent_name": "Baker", "model": "ollama/llama3.2"}
    conversation = {"id": "conv_shared", "title": "Shared recipes", "agent_id": "baker",
                    "created_at": 1_700_000_000, "messages": [
                        {"id": "msg_prompt", "role": "user", "text": "Bread?", "created_at": 1_700_000_000},
                        message]}
    for key, value in fields.items():
        (conversation if key in ("title", "conversation_agent_id") else message)[
            key.removeprefix("conversation_")] = value
    path = data_dir.parent / "shared.json"
    path.write_text(json.dumps({"format": "salon.conversations", "version": 1, "conversations": [conversation]}))
    return path


def import_shared(data_dir: Path, **fields: str) -> None:
    with Store.open(data_dir) as store:
        import_json(store, export_with(data_dir, **fields))


# -- 1. HTML in replies -----------------------------------------------------------------------------------------

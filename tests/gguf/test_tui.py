"""The chat app on the real model, no server anywhere: a reply streams onto the screen and is kept whole; Esc stops
one mid-way and keeps what was shown."""

from __future__ import annotations

from pathlib import Path

from salon.agents.definition import load_agents
from salon.api import Session
from salon.config.read import Config
from salon.store import Store
from salon.tui.app import SalonApp
from salon.tui.widgets import FinalMessage, LiveMessage
from tests.tui.conftest import ROOT, ManualClock, screen_text, send, settle, wait_for

STREAM_WAIT = 180.0  # loading the model and the first tokens on a loaded 2-core machine


def local_app(config_dir: Path, data_dir: Path, max_tokens: int) -> SalonApp:
    agents = config_dir / "agents"
    agents.mkdir(exist_ok=True)
    (agents / "local.toml").write_text(
        f'name = "Local"\nmodel = "gguf/gemma3"\n[params]\nmax_tokens = {max_tokens}\nseed = 1\n', encoding="utf-8")
    # Ollama's address points at nothing: the app must not need it for a gguf model.
    session = Session(Config(ollama_host="127.0.0.1:9", connect_timeout=2.0),
                      catalog=load_agents([agents, ROOT / "agents"]))
    return SalonApp(session, agent_id="local", data_dir=data_dir, clock=ManualClock(), show_conversations=False)


async def test_a_real_models_reply_streams_onto_the_screen_and_is_kept_whole(
        engine_ready, models_dir: Path, config_dir: Path, data_dir: Path) -> None:
    app = local_app(config_dir, data_dir, max_tokens=24)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "Say hello")
        await wait_for(pilot, lambda: app.screen.query(LiveMessage) or app.screen.query(FinalMessage),
                       timeout=STREAM_WAIT, what="the reply")
        await wait_for(pilot, lambda: app.screen.query(FinalMessage), timeout=STREAM_WAIT, what="the final message")
        await settle(app, pilot)
        final = app.screen.query_one(FinalMessage)
        record = final.record
        assert record.status == "complete" and record.text.strip()
        assert record.output_tokens is not None and 0 < record.output_tokens <= 24
        shown = screen_text(app)
        assert f"{record.input_tokens} in / {record.output_tokens} out" in shown
        assert "cannot reach" not in shown, "no Ollama banner for a model that needs no server"
    stored = Store.open(data_dir)
    try:
        conversation = stored.latest_conversation()
        messages = stored.messages(conversation.id)
    finally:
        stored.close()
    assert [(m.role, m.text, m.status) for m in messages] == [("user", "Say hello", "complete"),
                                                              ("assistant", record.text, "complete")]


async def test_escape_stops_a_real_model_mid_reply_and_keeps_what_was_shown(
        engine_ready, models_dir: Path, config_dir: Path, data_dir: Path) -> None:
    app = local_app(config_dir, data_dir, max_tokens=2000)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "Tell me a long story")
        await wait_for(pilot, lambda: app.screen.query(LiveMessage), timeout=STREAM_WAIT, what="the live reply")
        live = app.screen.query_one(LiveMessage)
        await wait_for(pilot, lambda: len(live.written) > 10, timeout=STREAM_WAIT, what="some text on screen")
        await pilot.press("escape")
        await settle(app, pilot)
        final = app.screen.query_one(FinalMessage)
        assert final.record.status == "interrupted"
        assert final.record.text.startswith(live.written) and final.record.text.strip()
        assert final.record.output_tokens is None or final.record.output_tokens < 2000
        assert "interrupted ·" in screen_text(app)

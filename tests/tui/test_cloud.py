"""A cloud agent in the TUI: real litellm against the OpenAI-compatible test server, swapped in as Ollama's are."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from textual.widgets import Markdown

from salon.agents.definition import load_agents
from salon.api import Session
from salon.config.read import load_config
from salon.providers.cloud.provider import litellm_loaded
from salon.tui.app import SalonApp
from salon.tui.widgets import FinalMessage, LiveMessage
from tests.servers.ollama import OllamaServer
from tests.servers.openai import OpenAIServer, Scripted
from tests.tui.conftest import ROOT, ManualClock, screen_text, send, settle, wait_for


def cloud_app(openai_server: OpenAIServer, ollama: OllamaServer, config_dir: Path, data_dir: Path,
              agent: str | None = "local-server") -> SalonApp:
    (config_dir / "config.toml").write_text(
        f'[providers.local]\napi_base = "{openai_server.api_base}"\nmodels = ["qwen2.5-7b-instruct"]\n')
    config = dataclasses.replace(load_config(), ollama_host=ollama.host)
    session = Session(config, catalog=load_agents([ROOT / "agents"]))
    return SalonApp(session, agent_id=agent, data_dir=data_dir, clock=ManualClock(), show_conversations=False,
                    cursor_blink=False)


async def test_a_cloud_agents_reply_streams_then_is_swapped_for_the_final_message(
        openai_server, server, config_dir, data_dir):
    text = "Virtue is **knowledge**:\n\n- courage\n- temperance\n"
    openai_server.script(Scripted(text=text, usage=False, rate=10))
    app = cloud_app(openai_server, server, config_dir, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "What is virtue?")
        await wait_for(pilot, lambda: app.screen.query(LiveMessage), what="the live message")
        live = app.screen.query_one(LiveMessage)
        await wait_for(pilot, lambda: live.written, timeout=30, what="the first tokens written")
        await wait_for(pilot, lambda: "Virtue" in screen_text(app), what="the first tokens on screen")
        assert live.has_class("-streaming")
        await settle(app, pilot)
        assert not app.screen.query(LiveMessage)
        assert not app.screen.query(Markdown)
        final = app.screen.query_one(FinalMessage)
        assert final.record.text == text
        shown = screen_text(app)
        assert "Virtue is knowledge:" in shown and "courage" in shown and "temperance" in shown
        # The server sent no counts: what litellm guessed is marked as a guess, never shown as a count.
        footer = next(line for line in shown.splitlines() if "Local server · local/qwen2.5-7b-instruct ·" in line)
        assert " out (estimated)" in footer, footer
        assert "unreachable" not in shown
    (request,) = openai_server.chat_requests
    assert request.body["messages"][-1] == {"role": "user", "content": "What is virtue?"}


async def test_the_model_picker_offers_cloud_models_from_config_and_warms_litellm_off_the_loop(
        openai_server, server, config_dir, data_dir):
    app = cloud_app(openai_server, server, config_dir, data_dir, agent=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: app.screen.id == "model-picker", what="the model picker")
        await wait_for(pilot, lambda: "local/qwen2.5-7b-instruct" in screen_text(app), what="the cloud model")
        await pilot.press(*"qwen2", "full_stop", "5", "enter")
        await wait_for(pilot, lambda: app.screen.id == "chat-screen")
        assert app.chat_screen.view.model_override == "local/qwen2.5-7b-instruct"
        await settle(app, pilot)
        # Loaded by the pick (in a worker thread), not by the first prompt; in this process it may have been
        # loaded by an earlier test already, so the reply below is what proves the pick took.
        assert litellm_loaded()
        openai_server.script(Scripted(text="Hello from qwen."))
        await send(app, pilot, "hi")
        await settle(app, pilot)
        assert app.screen.query_one(FinalMessage).record.text == "Hello from qwen."
        assert "Ollama" in screen_text(app) and "not used" in screen_text(app)
    assert [r.body["model"] for r in openai_server.chat_requests] == ["qwen2.5-7b-instruct"]

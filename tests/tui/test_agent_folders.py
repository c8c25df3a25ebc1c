"""Issue 18 in the chat app: an agent folder written for the agent hub, dropped into the user's agents folder, chats
here — its welcome, its streaming setting, each of a Python agent's completions one message, Esc keeping the text."""

from __future__ import annotations

import threading
from pathlib import Path

from salon.agents.definition import default_directories, load_agents
from salon.api import Session
from salon.config.read import Config
from salon.store import Store
from salon.tui.app import SalonApp
from salon.tui.widgets import FinalMessage, LiveMessage, ProgressLine
from tests.agent_folders import SOCRATES_THEN_PLATO, local_metadata, write_folder
from tests.hostile import MARKUP
from tests.servers.ollama import OllamaServer, Scripted
from tests.tui.conftest import ManualClock, screen_text, send, settle, toast_texts, unwrapped, wait_for
from tests.tui.hostile_apps import assert_inert, flat

SIZE = (120, 40)
SOCRATES = "Tell me, friend, what do you mean by virtue?"
PLATO = "Virtue is the harmony of the soul."


def folder_app(server: OllamaServer, data_dir: Path, agent: str = "streaming-example") -> SalonApp:
    """The real app with the bundled agents and the user's own folder, where the test dropped an agent folder."""
    config = Config(ollama_host=server.host, read_timeout=10.0, connect_timeout=2.0)
    session = Session(config, catalog=load_agents(default_directories()))
    return SalonApp(session, agent_id=agent, data_dir=data_dir, clock=ManualClock(), show_conversations=False)


def drop(config_dir: Path, program: str | None = SOCRATES_THEN_PLATO, **metadata: object) -> Path:
    return write_folder(config_dir / "agents", "streaming-example", local_metadata(**metadata), program)  # type: ignore[arg-type]


async def test_a_dropped_in_metadata_folder_welcomes_and_chats(server: OllamaServer, data_dir, config_dir):
    drop(config_dir, program=None)
    server.script(Scripted(text=SOCRATES))
    app = folder_app(server, data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        shown = screen_text(app)
        assert "Example of streaming agent runs" in shown
        assert "I respond as Socrates then as Plato." in shown
        await send(app, pilot, "What is virtue?")
        await settle(app, pilot)
        (final,) = app.screen.query(FinalMessage)
        assert final.record.text == SOCRATES
        assert "Streaming Example · llama3.2" in screen_text(app)
    assert server.requests[0]["options"]["num_predict"] == 4000


async def test_the_python_agent_writes_two_labelled_messages_in_order(server: OllamaServer, data_dir, config_dir):
    drop(config_dir)
    held = threading.Event()
    server.script(Scripted(text=SOCRATES), Scripted(text=PLATO, hold_final=held))
    app = folder_app(server, data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "What is virtue?")
        # Socrates is finished and swapped for his final message while Plato still streams, as text.
        await wait_for(pilot, lambda: app.screen.query(FinalMessage) and app.screen.query(LiveMessage)
                       and app.screen.query_one(LiveMessage).written == PLATO, what="Plato streaming")
        assert [m.record.text for m in app.screen.query(FinalMessage)] == [SOCRATES]
        assert PLATO in flat(app)
        held.set()
        await settle(app, pilot)
        finals = list(app.screen.query(FinalMessage))
        assert [(m.record.text, m.record.agent_name) for m in finals] == [
            (SOCRATES, "Streaming Example"), (PLATO, "Streaming Example")]
        shown = screen_text(app)
        assert shown.index(SOCRATES) < shown.index(PLATO)
        assert shown.count("╭─ Streaming Example ─") == 2, "each message is labelled with the agent"
    with Store.open(data_dir) as store:
        (conversation,) = store.conversations()
        assert [(m.role, m.text, m.status) for m in store.messages(conversation.id)] == [
            ("user", "What is virtue?", "complete"), ("assistant", SOCRATES, "complete"),
            ("assistant", PLATO, "complete")]


async def test_show_streaming_message_false_in_metadata_shows_progress_then_the_text(
        server: OllamaServer, data_dir, config_dir):
    drop(config_dir, show_streaming_message=False)
    held = threading.Event()
    server.script(Scripted(text=SOCRATES), Scripted(text=PLATO, hold_final=held))
    app = folder_app(server, data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "What is virtue?")
        await wait_for(pilot, lambda: app.screen.query(LiveMessage)
                       and app.screen.query_one(LiveMessage).deltas == 7, what="Plato's deltas")
        live = app.screen.query_one(LiveMessage)
        assert live.query(ProgressLine)
        await wait_for(pilot, lambda: "≈ 7 out (estimated)" in screen_text(app), what="the progress line")
        assert PLATO not in flat(app), "the text of a message that hides streaming is not shown while it streams"
        assert SOCRATES in flat(app)
        held.set()
        await settle(app, pilot)
        assert [m.record.text for m in app.screen.query(FinalMessage)] == [SOCRATES, PLATO]
        assert PLATO in flat(app)


async def test_esc_stops_the_python_agent_keeping_what_streamed(server: OllamaServer, data_dir, config_dir):
    drop(config_dir)
    held = threading.Event()
    server.script(Scripted(text=SOCRATES), Scripted(text=PLATO, hold_final=held))
    app = folder_app(server, data_dir)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await send(app, pilot, "What is virtue?")
            await wait_for(pilot, lambda: app.screen.query(LiveMessage)
                           and app.screen.query_one(LiveMessage).written == PLATO, what="Plato streaming")
            await pilot.press("escape")
            await settle(app, pilot)
            finals = list(app.screen.query(FinalMessage))
            assert [(m.record.text, m.record.status) for m in finals] == [
                (SOCRATES, "complete"), (PLATO, "interrupted")]
            assert not app.screen.query(LiveMessage)
            assert len(server.requests) == 2, "the agent did not go on after it was stopped"
    finally:
        held.set()
    with Store.open(data_dir) as store:
        (conversation,) = store.conversations()
        assert [m.status for m in store.messages(conversation.id)] == ["complete", "complete", "interrupted"]


async def test_an_agent_that_raises_is_reported_with_its_file_and_line(server: OllamaServer, data_dir, config_dir):
    folder = drop(config_dir, program="print('working on it')\n"
                                       "env.add_reply(env.completion(env.list_messages(), stream=True))\n"
                                       "raise RuntimeError('out of ideas')\n")
    server.script(Scripted(text=SOCRATES))
    app = folder_app(server, data_dir)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "What is virtue?")
        await settle(app, pilot)
        await wait_for(pilot, lambda: "out of ideas" in flat(app), what="the failure")
        # The notice names the file by its whole path, which a toast folds anywhere (a long temporary folder under
        # pytest-xdist folds it inside a word): read in the toast's own box, unwrapped.
        expected = unwrapped(f"{folder.name}/agent.py:3: RuntimeError: out of ideas")
        assert any(expected in unwrapped(toast) for toast in toast_texts(app)), toast_texts(app)
        assert [m.record.text for m in app.screen.query(FinalMessage)] == [SOCRATES]


async def test_a_hostile_metadata_file_is_shown_inert(server: OllamaServer, data_dir, config_dir):
    hostile = "Guest \x1b]0;PWNED\x07 \x9b2J " + MARKUP["action"]
    metadata = local_metadata()
    metadata["details"]["display_name"] = hostile
    metadata["details"]["agent"]["welcome"] = {"title": "Hi " + MARKUP["screenshot"],
                                               "description": "\x1b]52;c;aGFja2Vk\x07 " + MARKUP["inst"]}
    write_folder(config_dir / "agents", "guest", metadata)
    server.script(Scripted(text="Hello."))
    app = folder_app(server, data_dir, agent="guest")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        shown = assert_inert(app)
        assert "Hi [@click=app.screenshot('victim.txt','/tmp')]Baker[/]" in shown
        assert "␛]52;c;aGFja2Vk␇ [/INST]" in shown
        await send(app, pilot, "hi")
        await settle(app, pilot)
        assert "Guest ␛]0;PWNED␇ \\u{009b}2J [@click=app.quit]x[/]" in assert_inert(app)
        assert app.is_running

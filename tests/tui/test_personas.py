"""Who answers: the agent picker, the model picker, multi-step agents, and every message naming its writer."""

from __future__ import annotations

from textual.widgets import OptionList

from salon.tui.widgets import FinalMessage
from tests.servers.ollama import OllamaServer, Scripted
from tests.tui.conftest import make_app, screen_text, send, settle, status_line, wait_for


async def test_starting_with_an_agent_and_a_model(server: OllamaServer, data_dir):
    server.script(Scripted(text="Is it?"))
    app = make_app(server, data_dir, agent="socrates", model="ollama/qwen3")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await wait_for(pilot, lambda: "Socrates · qwen3" in status_line(app),
                       what="the status line naming the persona and model")
        await send(app, pilot, "virtue")
        await settle(app, pilot)
        request = server.requests[-1]
        assert request["model"] == "qwen3"
        assert request["messages"][0]["content"].startswith("Respond as though you were Socrates")
        assert "Socrates · qwen3" in screen_text(app)


async def test_ctrl_a_picks_the_persona_of_the_next_reply(server: OllamaServer, data_dir):
    server.script(Scripted(text="I help."), Scripted(text="Consider the cave."))
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "hello")
        await settle(app, pilot)
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.screen.id == "agent-picker"
        for key in "plto":  # fuzzy: not even spelled right
            await pilot.press(key)
        await pilot.pause()
        options = app.screen.query_one(OptionList)
        assert options.get_option_at_index(options.highlighted).id == "plato"
        await pilot.press("enter")
        await pilot.pause()
        assert "Plato · llama3.2" in status_line(app)
        await send(app, pilot, "and you?")
        await settle(app, pilot)
        assert server.requests[-1]["messages"][0]["content"].startswith("Respond as though you were Plato")
        finals = list(app.screen.query(FinalMessage))
        assert [f.border_title for f in finals] == ["Assistant", "Plato"]
        shown = screen_text(app)
        assert "Assistant · llama3.2" in shown and "Plato · llama3.2" in shown
        assert app.services.store.conversation(app.chat_screen.view.data.conversation_id).agent_id == "plato"


async def test_switching_persona_in_an_empty_conversation_shows_its_welcome(server: OllamaServer, data_dir):
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+t", *"socrates", "enter")
        await pilot.pause()
        assert "Ask Socrates" in screen_text(app)


async def test_escape_leaves_the_persona_unchanged(server: OllamaServer, data_dir):
    app = make_app(server, data_dir, agent="socrates")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+t", "p", "l", "escape")
        assert app.chat_screen.view.agent.id == "socrates"


async def test_model_picker_lists_the_hosts_models(server: OllamaServer, data_dir):
    server.script(Scripted(text="From qwen."))
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+o")
        await settle(app, pilot)
        assert app.screen.id == "model-picker"
        shown = screen_text(app)
        assert "llama3.2" in shown and "qwen3" in shown and "8.2B" in shown
        for key in "qwen":
            await pilot.press(key)
        await pilot.press("enter")
        await pilot.pause()
        assert "Assistant · qwen3" in status_line(app)
        await send(app, pilot, "hi")
        await settle(app, pilot)
        assert server.requests[-1]["model"] == "qwen3"
        assert "Assistant · qwen3" in screen_text(app)


async def test_two_step_agent_writes_two_labelled_messages(server: OllamaServer, data_dir):
    server.script(Scripted(text="What do you mean by justice?"), Scripted(text="Let me tell you of a cave."))
    app = make_app(server, data_dir, agent="socrates-then-plato")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "What is justice?")
        await settle(app, pilot)
        finals = list(app.screen.query(FinalMessage))
        assert [(f.border_title, f.record.text) for f in finals] == [
            ("Socrates", "What do you mean by justice?"), ("Plato", "Let me tell you of a cave.")]
        shown = screen_text(app)
        assert "Socrates · llama3.2" in shown and "Plato · llama3.2" in shown
        stored = app.services.store.messages(app.chat_screen.view.data.conversation_id)
        assert [(m.role, m.agent_name) for m in stored] == [("user", None), ("assistant", "Socrates"),
                                                             ("assistant", "Plato")]


async def test_picker_works_from_the_command_palette(server: OllamaServer, data_dir):
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        for key in "switch persona":
            await pilot.press(key if key != " " else "space")
        await wait_for(pilot, lambda: "Switch persona" in screen_text(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.id == "agent-picker")

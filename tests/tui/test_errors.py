"""When things go wrong: Ollama down, a model missing, a reply failing mid-way. Nothing typed is lost."""

from __future__ import annotations

from textual.widgets import ProgressBar

from salon.tui.screens.confirm import ConfirmScreen
from salon.tui.widgets import Banner, FinalMessage, UserMessage
from tests.conftest import ClosedPort
from tests.servers.ollama import OllamaServer, Scripted
from tests.tui.conftest import make_app, screen_text, send, settle, status_line, wait_for


async def test_ollama_down_shows_a_banner_and_keeps_the_prompt(closed_port: ClosedPort, data_dir):
    host = closed_port.host
    app = make_app(None, data_dir, host=host)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        shown = screen_text(app)
        assert f"Cannot reach Ollama at http://{host}" in shown
        assert "ollama serve" in shown
        assert "unreachable" in status_line(app)
        await send(app, pilot, "are you there?")
        await settle(app, pilot)
        assert app.chat_screen.composer.text == "are you there?"
        assert not app.screen.query(UserMessage)
        # Still usable: the persona picker opens and closes.
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.screen.id == "agent-picker"
        await pilot.press("escape")
        assert app.screen.id == "chat-screen"


async def test_the_banner_goes_once_ollama_answers(closed_port: ClosedPort, data_dir):
    app = make_app(None, data_dir, host=closed_port.host)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert app.screen.query_one(Banner).display
        with OllamaServer(closed_port.release()) as server:
            server.script(Scripted(text="Here now."))
            await send(app, pilot, "now?")
            await settle(app, pilot)
            await settle(app, pilot)
        assert not app.screen.query_one(Banner).display
        assert "Here now." in screen_text(app)
        assert app.chat_screen.composer.text == ""


async def test_ollama_going_down_between_replies_gives_the_prompt_back(closed_port: ClosedPort, data_dir):
    app = make_app(None, data_dir, host=closed_port.host)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        # As if the last check had found it up: the host went away since, so the reply itself fails.
        app.chat_screen.availability.set_connection("up")
        assert not app.screen.query_one(Banner).display
        await send(app, pilot, "hello?")
        await settle(app, pilot)
        assert app.chat_screen.composer.text == "hello?"
        assert "Cannot reach Ollama" in screen_text(app)
        assert not app.screen.query(UserMessage), "the undone exchange is not left behind"
        assert app.services.store.conversations() == []


async def test_a_missing_model_is_offered_for_pull_then_the_prompt_runs(server: OllamaServer, data_dir):
    server.script(Scripted(text="Hello from the new model."))
    app = make_app(server, data_dir, model="ollama/fresh-model")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "hi")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the pull offer")
        assert "fresh-model is not on" in screen_text(app)
        assert server.requests == [], "nothing is sent before the model is there"
        await pilot.press("y")
        await settle(app, pilot)
        await settle(app, pilot)
        assert "Hello from the new model." in screen_text(app)
        assert server.requests[-1]["model"] == "fresh-model"
        bar = app.screen.query_one(ProgressBar)
        assert bar.total == 1_000_000 and bar.progress == 1_000_000
        assert app.chat_screen.composer.text == ""


async def test_declining_the_pull_keeps_the_prompt(server: OllamaServer, data_dir):
    app = make_app(server, data_dir, model="ollama/fresh-model")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "hi")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await settle(app, pilot)
        assert app.chat_screen.composer.text == "hi"
        assert server.requests == []


async def test_a_model_that_vanished_before_the_reply_is_offered_too(server: OllamaServer, data_dir):
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        del server.state.models["llama3.2"]  # removed on the host after Salon listed the models
        await send(app, pilot, "hi")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the pull offer")
        await pilot.press("n")
        await settle(app, pilot)
        assert app.chat_screen.composer.text == "hi"
        assert not app.screen.query(FinalMessage)


async def test_a_reply_failing_mid_stream_keeps_its_text_and_can_be_retried(server: OllamaServer, data_dir):
    server.script(Scripted(text="Partial words then boom", error_after=3, error="model runner crashed"),
                  Scripted(text="A whole answer."))
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "go")
        await settle(app, pilot)
        final = app.screen.query_one(FinalMessage)
        assert final.record.status == "failed"
        assert final.record.text == "Partial words then"
        shown = screen_text(app)
        assert "Partial words then" in shown
        assert "failed ·" in shown
        assert "model runner crashed" in shown
        assert "ctrl+r retries" in shown
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert [m.record.text for m in app.chat_screen.view.chat_log.records()] == ["go", "A whole answer."]
        assert "model runner crashed" not in screen_text(app)


async def test_a_database_that_cannot_open_leaves_the_chat_working_unsaved(server: OllamaServer, tmp_path):
    not_a_folder = tmp_path / "occupied"
    not_a_folder.write_text("a file where the data folder should be")
    server.script(Scripted(text="Still here."))
    app = make_app(server, not_a_folder)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(app, pilot)
        assert app.services.store is None
        # The notice is raised after the first frame and drawn a frame later: waited for, not read at once.
        await wait_for(pilot, lambda: "History unavailable" in screen_text(app), what="the history notice")
        assert "not saved" in str(app.chat_screen.status.render())
        await send(app, pilot, "hello")
        await settle(app, pilot)
        assert "Still here." in screen_text(app)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert [m.record.text for m in app.chat_screen.view.chat_log.records()] == ["hello", "You said: hello"]

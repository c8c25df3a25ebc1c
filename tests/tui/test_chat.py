"""Chatting: the welcome view, the composer, a reply streaming in and swapped for its final message."""

from __future__ import annotations

from textual.widgets import Markdown

from salon.tui.widgets import ChatLog, Composer, FinalMessage, LiveMessage, ProgressLine, UserMessage
from tests.servers.ollama import OllamaServer, Scripted
from tests.tui.conftest import make_app, screen_text, send, settle, status_line, wait_for


async def test_welcome_view_shows_the_agents_welcome_until_the_first_message(server: OllamaServer, data_dir):
    app = make_app(server, data_dir, agent="socrates")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        text = screen_text(app)
        assert "Ask Socrates" in text
        assert "He will answer with a question." in text
        server.script(Scripted(text="What is a question?"))
        await send(app, pilot, "hello")
        await settle(app, pilot)
        assert "Ask Socrates" not in screen_text(app)


async def test_enter_sends_and_ctrl_j_starts_a_new_line(server: OllamaServer, data_dir):
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        composer = app.chat_screen.composer
        composer.focus()
        await pilot.press("f", "i", "r", "s", "t", "ctrl+j", "s", "e", "c")
        assert composer.text == "first\nsec"
        assert server.requests == []
        await pilot.press("enter")
        await settle(app, pilot)
        assert server.requests[-1]["messages"][-1] == {"role": "user", "content": "first\nsec"}
        assert composer.text == ""


async def test_shift_enter_starts_a_new_line_where_the_terminal_reports_it(server: OllamaServer, data_dir):
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.chat_screen.composer.focus()
        await pilot.press("a", "shift+enter", "b")
        assert app.chat_screen.composer.text == "a\nb"
        assert server.requests == []


async def test_an_empty_composer_sends_nothing(server: OllamaServer, data_dir):
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.chat_screen.composer.focus()
        await pilot.press("space", "enter")
        await settle(app, pilot)
        assert server.requests == []
        assert not app.screen.query(UserMessage)


async def test_reply_streams_as_markdown_then_becomes_one_final_message(server: OllamaServer, data_dir):
    server.script(Scripted(text="Here is **bold** text and a list:\n\n- one\n- two\n", stall_after=6))
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "show me")
        await wait_for(pilot, lambda: app.screen.query(LiveMessage), what="the live message")
        live = app.screen.query_one(LiveMessage)
        await wait_for(pilot, lambda: live.written == "Here is **bold** text and a", what="six tokens on screen")
        await pilot.pause()
        assert "writing…" in screen_text(app)
        assert "Here is bold text and a" in screen_text(app)
        assert "**" not in screen_text(app), "the live text is drawn as Markdown, not shown raw"
        assert live.has_class("-streaming")


async def test_the_final_message_is_one_light_widget_with_a_footer(server: OllamaServer, data_dir):
    text = "Here is **bold** text and a list:\n\n- one\n- two\n\n```python\nprint('hi')\n```\n"
    server.script(Scripted(text=text))
    # A clock that moves, so the reply lasts long enough for its rate to be shown.
    app = make_app(server, data_dir, clock=_TickingClock())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "show me")
        await settle(app, pilot)
        assert not app.screen.query(LiveMessage)
        assert not app.screen.query(Markdown), "no Textual Markdown widget stays after the reply completes"
        final = app.screen.query_one(FinalMessage)
        assert final.record.text == text
        assert len(final.query("*")) <= 3, "a finished message is one light widget, not a tree of blocks"
        shown = screen_text(app)
        assert "Here is bold text and a list:" in shown
        assert "print('hi')" in shown
        assert "Assistant · llama3.2 · 26 in / 15 out" in shown
        assert "tok/s" in shown


async def test_deltas_reach_the_screen_in_frames_not_one_by_one(server: OllamaServer, data_dir):
    words = " ".join(["word"] * 300)
    server.script(Scripted(text=words, rate=150))
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "go")
        seen: list[LiveMessage] = []
        await wait_for(pilot, lambda: seen.extend(app.screen.query(LiveMessage)) or seen)
        live = seen[0]
        await settle(app, pilot)
        assert live.deltas == 300
        assert 1 <= live.frames <= 30, f"{live.frames} frames for 300 deltas"
        assert app.screen.query_one(FinalMessage).record.text == words


async def test_progress_line_instead_of_text_when_the_agent_hides_streaming(server: OllamaServer, data_dir):
    server.script(Scripted(text="A long draft that should not be shown while it is written.", stall_after=5))
    app = make_app(server, data_dir, agent="quiet-drafter")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "draft")
        await wait_for(pilot, lambda: app.screen.query(LiveMessage))
        live = app.screen.query_one(LiveMessage)
        await wait_for(pilot, lambda: "≈ 5 out (estimated)" in screen_text(app), what="the progress line")
        shown = screen_text(app)
        assert "A long draft" not in shown
        # The clock stands still: no time has passed, so no rate is made up.
        assert "out (estimated) · no rate yet · 0.0 s" in shown
        assert live.query(ProgressLine)
        assert not live.query(Markdown)


async def test_progress_line_hands_over_to_the_whole_text(server: OllamaServer, data_dir):
    server.script(Scripted(text="The finished draft."))
    app = make_app(server, data_dir, agent="quiet-drafter")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "draft")
        await settle(app, pilot)
        assert "The finished draft." in screen_text(app)
        assert "Writing…" not in screen_text(app)


async def test_status_line_shows_agent_model_connection_and_live_rate(server: OllamaServer, data_dir):
    server.script(Scripted(text="one two three four five six seven eight", stall_after=6))
    app = make_app(server, data_dir, agent="socrates", clock=_TickingClock())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        status = status_line(app)
        assert "Socrates · llama3.2" in status
        assert f"Ollama http://{server.host} connected" in status
        await send(app, pilot, "go")
        await wait_for(pilot, lambda: "tok/s" in status_line(app), what="a live rate")
        assert "replying" in status_line(app)


class _TickingClock:
    """Moves a second each time it is read, so a live rate exists (rates need a second: MIN_RATE_SECONDS)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


async def test_thinking_shows_apart_and_collapses_when_the_answer_begins(server: OllamaServer, data_dir):
    thinking = "First I consider the question carefully."
    server.script(Scripted(thinking=thinking, text="The answer is 42.", stall_after=6))
    app = make_app(server, data_dir, model="ollama/qwen3")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "think")
        await wait_for(pilot, lambda: "First I consider the question" in screen_text(app), what="thinking shown")
        from textual.widgets import Collapsible

        live = app.screen.query_one(LiveMessage)
        assert not live.query_one(Collapsible).collapsed
        assert live.written == ""


async def test_thinking_collapses_once_the_answer_begins(server: OllamaServer, data_dir):
    from tests.servers.ollama import tokenize

    thinking = "First I consider the question carefully."
    server.script(Scripted(thinking=thinking, text="The answer is 42.", stall_after=len(tokenize(thinking)) + 2))
    app = make_app(server, data_dir, model="ollama/qwen3")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "think")
        await wait_for(pilot, lambda: "The answer" in screen_text(app), what="the answer begun")
        from textual.widgets import Collapsible

        live = app.screen.query_one(LiveMessage)
        assert live.query_one(Collapsible).collapsed
        assert "First I consider" not in screen_text(app)


async def test_thinking_is_collapsed_in_the_final_message(server: OllamaServer, data_dir):
    server.script(Scripted(thinking="Secret reasoning goes here.", text="The answer is 42."))
    app = make_app(server, data_dir, model="ollama/qwen3")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "think")
        await settle(app, pilot)
        from textual.widgets import Collapsible

        final = app.screen.query_one(FinalMessage)
        assert final.query_one(Collapsible).collapsed
        shown = screen_text(app)
        assert "The answer is 42." in shown
        assert "Thinking" in shown
        assert "Secret reasoning" not in shown
        assert final.record.thinking == "Secret reasoning goes here."


async def test_markup_lookalikes_and_escapes_render_literally(server: OllamaServer, data_dir):
    text = "[/INST] [bold]not bold[/bold] \x1b[31mred\x1b[0m [link=x]y[/link]\n\n```python\nunclosed = True\n"
    server.script(Scripted(tokens=[text[:9], text[9:30], text[30:]], stall_after=2))
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "markup")
        await wait_for(pilot, lambda: app.screen.query(LiveMessage))
        live = app.screen.query_one(LiveMessage)
        await wait_for(pilot, lambda: live.written == text[:30])
        await pilot.pause()
        assert "[/INST] [bold]not bold[/bold]" in screen_text(app)
    server.script(Scripted(text=text))
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "markup")
        await settle(app, pilot)
        shown = screen_text(app)
        assert "[/INST] [bold]not bold[/bold] ␛[31mred␛[0m [link=x]y[/link]" in shown
        assert "unclosed = True" in shown
        assert app.screen.query_one(FinalMessage).record.text == text


async def test_the_log_scrolls_with_the_keyboard(server: OllamaServer, data_dir):
    server.set_default(Scripted(text="line\n\n" * 60))
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "long")
        await settle(app, pilot)
        log = app.chat_screen.view.chat_log
        assert log.scroll_y == log.max_scroll_y > 0
        await pilot.press("tab")
        assert isinstance(app.focused, ChatLog)
        await pilot.press("pageup")
        assert log.scroll_y < log.max_scroll_y
        await pilot.press("escape")
        assert isinstance(app.focused, Composer)


async def test_a_theme_change_recolours_finished_messages(server: OllamaServer, data_dir):
    server.script(Scripted(text="# A heading\n\nAnd text."))
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "hi")
        await settle(app, pilot)
        before = app.export_screenshot()
        app.theme = "textual-light"
        final = app.screen.query_one(FinalMessage)
        await wait_for(pilot, lambda: final.markdown.palette.key == "textual-light", what="the new palette")
        await pilot.pause()  # and a frame drawn with it
        primary = app.current_theme.primary.lower()
        after = app.export_screenshot()
        assert primary in after.lower() and after != before, "the heading takes the new theme's primary colour"

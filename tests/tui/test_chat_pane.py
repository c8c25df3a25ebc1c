"""The chat pane as a new user found it: resizing mid-reply, paging from the composer, the swap that moves nothing."""

from __future__ import annotations

import threading

from salon.tui.widgets import FinalMessage, LiveMessage
from tests.servers.ollama import OllamaServer, Scripted
from tests.tui.conftest import make_app, screen_lines, screen_text, send, settle, status_line, wait_for

PARAGRAPHS = [f"Paragraph {i:02d} " + " ".join(f"word{i}x{j}" for j in range(22)) + f" end{i:02d}."
              for i in range(25)]
"""25 paragraphs of ~190 characters: one line each at 200 columns, four at 60."""

BLOCKS = "\n\n".join([
    "# A heading",
    "First paragraph with **bold** words and `code`, long enough to wrap at least once on the screen here.",
    "- one item\n- two items\n- three items",
    "```python\ndef f(x):\n    return x * 2\n```",
    *(f"Paragraph {i} says something about block layout and keeps going a while." for i in range(12)),
    "> a quote at the end",
    "The last paragraph.",
]) + "\n"


def _held(text: str) -> tuple[Scripted, threading.Event]:
    release = threading.Event()
    return Scripted(text=text, hold_final=release), release


async def test_widening_or_narrowing_the_window_mid_reply_shows_the_text_at_once(server: OllamaServer, data_dir):
    script, release = _held("\n\n".join(PARAGRAPHS) + "\n")
    server.script(script)
    app = make_app(server, data_dir)
    try:
        async with app.run_test(size=(60, 20)) as pilot:
            await settle(app, pilot)
            await send(app, pilot, "write a lot")
            await wait_for(pilot, lambda: app.screen.query(LiveMessage), what="the live message")
            live = app.screen.query_one(LiveMessage)
            await wait_for(pilot, lambda: live.written.rstrip().endswith("end24."), timeout=30,
                           what="the whole text written")
            await wait_for(pilot, lambda: "end24." in screen_text(app), what="the end of the text on screen")
            # No more text comes while the window changes: only the resize can bring the text into view.
            await pilot.resize_terminal(200, 60)
            await wait_for(pilot, lambda: "end24." in screen_text(app), timeout=5,
                           what="the end of the text on screen after widening")
            shown = [line for line in screen_lines(app) if "Paragraph" in line]
            assert len(shown) > 10, "the widened window shows the text, not a blank band"
            await pilot.resize_terminal(60, 20)
            await wait_for(pilot, lambda: "end24." in screen_text(app), timeout=5,
                           what="the end of the text on screen after narrowing")
            release.set()
            await wait_for(pilot, lambda: app.screen.query(FinalMessage), what="the final message")
    finally:
        release.set()


def _log_rows(app) -> list[str]:
    """The rows of the conversation's log, without the message borders (their subtitle changes at the swap)."""
    log = app.chat_screen.view.chat_log
    top, bottom = log.region.y, log.region.bottom
    return [line for line in screen_lines(app)[top:bottom] if "╰" not in line and "╭" not in line]


async def test_the_swap_from_live_to_final_moves_no_text(server: OllamaServer, data_dir):
    script, release = _held(BLOCKS)
    server.script(script)
    app = make_app(server, data_dir)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            await send(app, pilot, "show me blocks")
            await wait_for(pilot, lambda: app.screen.query(LiveMessage), what="the live message")
            live = app.screen.query_one(LiveMessage)
            await wait_for(pilot, lambda: live.written == BLOCKS, timeout=30, what="the whole text written")
            assert live.settled.parts, "blocks were settled while streaming (the case that used to jump)"
            await wait_for(pilot, lambda: "The last paragraph." in screen_text(app), what="the text drawn")
            await pilot.pause()
            before = _log_rows(app)
            release.set()
            await wait_for(pilot, lambda: app.screen.query(FinalMessage), what="the final message")
            await settle(app, pilot)
            after = _log_rows(app)
            assert "The last paragraph." in "\n".join(after)
            assert after == before
            # And a blank line between blocks, as in the final render: never two.
            text = "\n".join(after)
            assert "\n\n\n" not in text.replace("│", "").replace(" ", "")
    finally:
        release.set()


async def test_page_keys_scroll_the_conversation_from_the_composer(server: OllamaServer, data_dir):
    long_reply = "\n\n".join(f"Line {i} of a long reply." for i in range(60)) + "\n"
    server.script(Scripted(text=long_reply), Scripted(text=long_reply))
    app = make_app(server, data_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "the very first prompt")
        await settle(app, pilot)
        await send(app, pilot, "the second prompt")
        await wait_for(pilot, lambda: len(app.screen.query(FinalMessage)) == 2, what="two replies")
        await settle(app, pilot)
        composer = app.chat_screen.composer
        assert app.focused is composer
        log = app.chat_screen.view.chat_log
        assert "Line 59 of a long reply." in screen_text(app)
        bottom = log.scroll_y
        await pilot.press("pageup")
        await wait_for(pilot, lambda: log.scroll_y < bottom, timeout=5, what="the log to scroll up a page")
        assert "Line 59 of a long reply." not in screen_text(app)
        assert app.focused is composer
        await pilot.press("ctrl+home")
        await wait_for(pilot, lambda: "the very first prompt" in screen_text(app), timeout=5,
                       what="the first prompt at the top")
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: "the very first prompt" not in screen_text(app), timeout=5,
                       what="a page down")
        await pilot.press("ctrl+end")
        await wait_for(pilot, lambda: "Line 59 of a long reply." in screen_text(app), timeout=5,
                       what="the latest at the bottom")
        assert app.focused is composer
        composer.insert("draft stays")
        assert composer.text == "draft stays"


async def test_a_narrow_terminal_hides_the_conversation_list_until_its_key(server: OllamaServer, data_dir):
    server.script(Scripted(text="A short answer."))
    app = make_app(server, data_dir, show_conversations=True, agent="socrates")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "hello there")
        await wait_for(pilot, lambda: app.screen.query(FinalMessage), what="the reply")
        await settle(app, pilot)
        # The count takes in the reply once it is stored, in words that agree with the number.
        await wait_for(pilot, lambda: "2 messages" in screen_text(app), timeout=5, what="the list's count")
        meta = next(line for line in screen_text(app).splitlines() if "2 messages" in line)
        assert "just now · 2 messages · socrates" in meta, "the meta line is whole, not wrapped"
        await pilot.resize_terminal(60, 20)
        await wait_for(pilot, lambda: "2 messages" not in screen_text(app), timeout=5, what="the list hidden")
        assert "A short answer." in screen_text(app)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "2 messages" in screen_text(app), timeout=5, what="the list on its key")
        assert app.focused is app.screen.query_one("#conversations")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "2 messages" not in screen_text(app), timeout=5, what="hidden again")
        assert app.focused is app.chat_screen.composer


async def test_the_first_list_key_focuses_a_visible_list_instead_of_hiding_it(server: OllamaServer, data_dir):
    app = make_app(server, data_dir, show_conversations=True)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        await wait_for(pilot, lambda: app.screen.query("#conversations"), what="the list mounted")
        assert app.focused is app.chat_screen.composer
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert "No conversations yet" in screen_text(app)
        assert app.focused is app.screen.query_one("#conversations")


async def test_the_list_key_pressed_before_the_list_has_loaded_still_takes_you_to_it(server: OllamaServer, data_dir):
    # A slow start, staged: the app's after-first-frame work (opening the database, which mounts the list) waits
    # until the test lets it run, so the key surely comes first, as it did in a real terminal on a loaded machine.
    app = make_app(server, data_dir)
    slow_start = app.after_first_frame
    app.after_first_frame = lambda: None  # type: ignore[method-assign]
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+g")
        assert not app.screen.query("#conversations")
        slow_start()
        await wait_for(pilot, lambda: app.screen.query("#conversations"), what="the list mounted")
        await wait_for(pilot, lambda: app.focused is app.screen.query_one("#conversations"), what="the list focused")


def test_message_counts_are_grammatical():
    from salon.tui.widgets.conversation_list import messages

    assert [messages(n) for n in (0, 1, 2, 1200)] == ["0 messages", "1 message", "2 messages", "1,200 messages"]


async def test_the_persona_picker_ranks_a_name_match_above_a_description_match(server: OllamaServer, data_dir):
    from textual.widgets import OptionList

    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: app.screen.id == "agent-picker", what="the persona picker")
        for key in "plat":
            await pilot.press(key)
        await pilot.pause()
        options = app.screen.query_one(OptionList)
        shown = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert shown[0] == "plato"
        assert shown.index("assistant") > shown.index("plato")


async def test_notices_leave_the_prompt_and_the_status_line_in_view(server: OllamaServer, data_dir):
    from textual.widgets._toast import Toast

    app = make_app(server, data_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(app, pilot)
        app.chat_screen.composer.insert("my kept prompt")
        app.notify("Ollama is not answering; your prompt is still in the box.", title="Not sent",
                   severity="error", timeout=30)
        await wait_for(pilot, lambda: app.screen.query(Toast), what="the notice")
        await pilot.pause()
        toasts = list(app.screen.query(Toast))
        for covered in (app.chat_screen.composer, app.chat_screen.status):
            assert not any(toast.region.overlaps(covered.region) for toast in toasts), covered
        assert "my kept prompt" in screen_text(app)
        assert "Not sent" in screen_text(app)


async def _pick_model(app, pilot, name: str) -> None:
    await pilot.press("ctrl+o")
    await wait_for(pilot, lambda: app.screen.id == "model-picker", what="the model picker")
    await settle(app, pilot)
    await pilot.press(*name, "enter")
    await wait_for(pilot, lambda: app.screen.id == "chat-screen", what="the chat again")
    await pilot.pause()


def _welcome(app) -> str:
    return str(app.chat_screen.view.query_one("#welcome").render())


async def test_the_model_picked_belongs_to_the_conversation_across_a_restart(server: OllamaServer, data_dir):
    server.script(Scripted(text="From qwen."), Scripted(text="From qwen again."))
    app = make_app(server, data_dir, show_conversations=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await _pick_model(app, pilot, "qwen")
        # The welcome card names the model that will answer, not the agent's own.
        assert "qwen3" in _welcome(app) and "llama3.2" not in _welcome(app)
        await send(app, pilot, "which model are you?")
        await wait_for(pilot, lambda: app.screen.query(FinalMessage), what="the reply")
        await settle(app, pilot)
        assert server.requests[-1]["model"] == "qwen3"
        conversation_id = app.chat_screen.view.data.conversation_id
        # A new conversation starts with the model in effect, and its welcome card says so.
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert "qwen3" in _welcome(app)
    # After a restart, reopening the conversation brings its model back: ctrl+r asks the same model again.
    again = make_app(server, data_dir, show_conversations=True)
    async with again.run_test(size=(120, 40)) as pilot:
        await settle(again, pilot)
        await again.chat_screen.open_conversation(conversation_id)
        await settle(again, pilot)
        assert "Assistant · qwen3" in status_line(again)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: len(server.requests) >= 2 and again.screen.query(FinalMessage)
                       and not again.chat_screen.view.busy, what="the regenerated reply")
        await settle(again, pilot)
        assert server.requests[-1]["model"] == "qwen3"
        assert "From qwen again." in screen_text(again)

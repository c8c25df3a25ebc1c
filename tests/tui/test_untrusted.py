"""Issue 12 in the chat app: text Salon does not control is shown, never obeyed.

Each test stages one reproduction of the issue for real: an agent file, the Ollama test server's reply, its model
name or error, an imported conversation or a theme carries markup, an escape sequence, HTML or odd Unicode, and
the screen (read back from Textual's own screenshot) must show it literally, with the app still running and
nothing run, written or lost.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from textual.widgets import OptionList

from salon.store import Store
from salon.tui.screens.confirm import ConfirmScreen
from salon.tui.widgets import FinalMessage, LiveMessage
from tests.hostile import DONE_WHEN, ESCAPES, HTML, LONE_SURROGATE, SPLIT_PAIR
from tests.servers.ollama import OllamaServer, Scripted
from tests.tui.conftest import send, settle, wait_for
from tests.tui.hostile_apps import (
    SIZE,
    assert_inert,
    assert_running,
    click_on,
    flat,
    hostile_app,
    import_shared,
)


async def test_1_html_in_a_reply_is_shown_literally_while_it_streams(server: OllamaServer, data_dir, tmp_path):
    text = "\n\n".join(HTML.values())
    tokens = [text[i:i + 5] for i in range(0, len(text), 5)]
    server.script(Scripted(tokens=tokens, done_delay=30))
    app = hostile_app(server, data_dir, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "show me")
        await wait_for(pilot, lambda: app.screen.query(LiveMessage), what="the live message")
        live = app.screen.query_one(LiveMessage)
        await wait_for(pilot, lambda: live.written == text, timeout=20, what="every token on screen")
        await pilot.pause()
        shown = flat(app)
        for piece in ("Vec<String>", "use the <br> tag or <br> here", "a<b>c", "<</SYS>>",
                      "<details> <summary>More</summary> hidden body </details>"):
            assert piece in shown


async def test_1_html_in_a_reply_is_shown_literally_in_the_final_message(server: OllamaServer, data_dir, tmp_path):
    text = "\n\n".join(HTML.values())
    server.script(Scripted(text=text))
    app = hostile_app(server, data_dir, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "show me")
        await wait_for(pilot, lambda: app.screen.query(FinalMessage), what="the final message")
        await settle(app, pilot)
        shown = flat(app)
        for piece in ("Vec<String>", "use the <br> tag or <br> here", "a<b>c", "<</SYS>>",
                      "<details> <summary>More</summary> hidden body </details>"):
            assert piece in shown


# -- 2. Textual markup in untrusted strings ---------------------------------------------------------------------


async def test_2_an_agent_named_with_action_markup_is_shown_and_a_click_runs_nothing(
        server: OllamaServer, data_dir, tmp_path):
    server.script(Scripted(text="Hello."))
    app = hostile_app(server, data_dir, tmp_path, name="[@click=app.quit]Evil[/]")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "hi")
        await settle(app, pilot)
        assert "╭─ [@click=app.quit]Evil[/] ─" in assert_inert(app)
        await click_on(pilot, app, "Evil")  # the message's border title
        assert_running(app)


async def test_2_a_server_model_name_with_action_markup_is_shown_and_a_click_runs_nothing(
        server: OllamaServer, data_dir, tmp_path):
    server.script(Scripted(text="Hello.", reported_model="[@click=app.quit]x[/]"))
    app = hostile_app(server, data_dir, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "hi")
        await settle(app, pilot)
        assert "Assistant · [@click=app.quit]x[/] · 26 in" in assert_inert(app)
        await click_on(pilot, app, "x[/] · 26")  # the message's border subtitle
        assert_running(app)


async def test_2_an_imported_agent_name_with_a_screenshot_action_writes_no_file(
        server: OllamaServer, data_dir, tmp_path):
    victim = Path(tempfile.mkdtemp(prefix="v"))  # short, so the whole title fits on the border
    try:
        import_shared(data_dir, agent_name=f"[@click=app.screenshot('victim.txt','{victim}')]Baker[/]")
        app = hostile_app(server, data_dir, tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await app.chat_screen.open_conversation("conv_shared")
            await settle(app, pilot)
            assert "]Baker[/]" in assert_inert(app)
            await click_on(pilot, app, "Baker[/] ─")
            assert_running(app)
        assert list(victim.iterdir()) == []
    finally:
        shutil.rmtree(victim)


async def test_2_a_server_model_name_inst_neither_crashes_nor_breaks_reopening(
        server: OllamaServer, data_dir, tmp_path):
    server.script(Scripted(text="Fine.", reported_model="[/INST]"))
    app = hostile_app(server, data_dir, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "hi")
        await settle(app, pilot)
        assert "Assistant · [/INST] · 26 in" in assert_inert(app)
        conversation_id = app.chat_screen.view.data.conversation_id
    assert app.return_code in (None, 0)
    again = hostile_app(server, data_dir, tmp_path)
    async with again.run_test(size=SIZE) as pilot:
        await settle(again, pilot)
        await again.chat_screen.open_conversation(conversation_id)
        await settle(again, pilot)
        assert "Assistant · [/INST] · 26 in" in assert_inert(again)
        assert_running(again)


async def test_2_an_http_400_error_with_markup_is_shown_literally(server: OllamaServer, data_dir, tmp_path):
    server.script(Scripted(status=400, error="invalid option [/] near [@click=app.quit]here[/]"))
    app = hostile_app(server, data_dir, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "hi")
        await settle(app, pilot)
        shown = flat(app)
        assert "invalid option [/] near [@click=app.quit]here[/]" in shown  # the toast and the failed message
        await click_on(pilot, app, "here[/]")
        assert_running(app)


async def test_2_deleting_a_conversation_titled_with_markup(server: OllamaServer, data_dir, tmp_path):
    server.script(Scripted(text="A token."))
    app = hostile_app(server, data_dir, tmp_path, show_conversations=True)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "[/INST] what is this token?")
        await settle(app, pilot)
        assert "[/INST] what is this token?" in assert_inert(app)
        await pilot.press("ctrl+g", "delete")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "“[/INST] what is this token?” and its" in flat(app)
        await pilot.press("y")
        await settle(app, pilot)
        assert "Deleted “[/INST] what is this token?”." in flat(app)
        assert_running(app)
    with Store.open(data_dir) as store:
        assert store.conversations() == []


async def test_2_an_imported_agent_id_with_markup_opens(server: OllamaServer, data_dir, tmp_path):
    import_shared(data_dir, conversation_agent_id="[/]", agent_id="[/]", agent_name="")
    app = hostile_app(server, data_dir, tmp_path, show_conversations=True)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await app.chat_screen.open_conversation("conv_shared")
        await settle(app, pilot)
        shown = flat(app)
        assert "Agent '[/]' no longer exists" in shown
        assert "╭─ [/] ─" in assert_inert(app)  # the reply's title falls back to its agent id
        assert_running(app)


async def test_2_a_theme_named_with_markup_in_config_falls_back_with_a_warning(
        server: OllamaServer, data_dir, tmp_path):
    app = hostile_app(server, data_dir, tmp_path, theme="[/INST]")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert "theme '[/INST]' not found; using salon-dark" in flat(app)
        assert app.theme == "salon-dark"
        assert_running(app)


async def test_2_a_theme_colour_with_markup_is_reported_and_the_app_starts(
        server: OllamaServer, data_dir, tmp_path, config_dir):
    themes = config_dir / "themes"
    themes.mkdir()
    (themes / "mine.toml").write_text('primary = "[/INST]"\nbackground = "#000000"\n')
    app = hostile_app(server, data_dir, tmp_path, theme="mine")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        shown = flat(app)
        assert "mine.toml:1:" in shown and "[/INST]" in shown
        assert_running(app)


async def test_2_typing_in_the_persona_picker_with_markup_in_a_name(server: OllamaServer, data_dir, tmp_path):
    app = hostile_app(server, data_dir, tmp_path, name="Guest [/INST] [b]bold")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+t")
        await pilot.pause()
        for key in "guest":
            await pilot.press(key)
        await pilot.pause()
        options = app.screen.query_one(OptionList)
        assert options.get_option_at_index(options.highlighted).id == "guest"
        assert "Guest [/INST] [b]bold (guest)" in assert_inert(app)
        assert_running(app)


async def test_2_typing_in_the_model_picker_with_markup_in_a_model_name(server: OllamaServer, data_dir, tmp_path):
    server.add_model("[/INST]-coder")
    app = hostile_app(server, data_dir, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+o")
        await settle(app, pilot)
        for key in "inst":
            await pilot.press(key)
        await pilot.pause()
        assert "[/INST]-coder" in assert_inert(app)
        assert_running(app)


async def test_2_an_agent_named_inst_has_its_first_reply_sent(server: OllamaServer, data_dir, tmp_path):
    server.script(Scripted(text="I was asked."))
    app = hostile_app(server, data_dir, tmp_path, name="[/INST]")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "hi")
        await settle(app, pilot)
        assert len(server.requests) == 1
        shown = assert_inert(app)
        assert "╭─ [/INST] ─" in shown and "I was asked." in shown


# -- 3. Terminal escapes ------------------------------------------------------------------------------------------


async def test_3_a_server_model_name_with_osc_52_and_osc_2_never_reaches_the_terminal(
        server: OllamaServer, data_dir, tmp_path):
    model = "llama3.2" + ESCAPES["osc52"] + "\x1b]2;TITLE\x07"
    server.script(Scripted(text="Copied?", reported_model=model))
    app = hostile_app(server, data_dir, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "hi")
        await settle(app, pilot)
        assert "llama3.2␛]52;c;aGFja2Vk␇␛]2;TITLE␇" in assert_inert(app)
        conversation_id = app.chat_screen.view.data.conversation_id
    again = hostile_app(server, data_dir, tmp_path)  # it must not fire again when the conversation is shown
    async with again.run_test(size=SIZE) as pilot:
        await settle(again, pilot)
        await again.chat_screen.open_conversation(conversation_id)
        await settle(again, pilot)
        assert "llama3.2␛]52;c;aGFja2Vk␇␛]2;TITLE␇" in assert_inert(again)


async def test_3_an_agent_name_with_osc_2_never_reaches_the_terminal(server: OllamaServer, data_dir, tmp_path):
    server.script(Scripted(text="Hello."))
    app = hostile_app(server, data_dir, tmp_path, name="Ev\x1b]2;OWNED\x07il \u202ereversed")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "Ev␛]2;OWNED␇il \\u{202e}reversed" in assert_inert(app)  # the status line
        await send(app, pilot, "hi")
        await settle(app, pilot)
        shown = assert_inert(app)
        assert "╭─ Ev␛]2;OWNED␇il \\u{202e}reversed ─" in shown


# -- 4. Unicode that JSON allows ----------------------------------------------------------------------------------


async def test_4_lone_and_split_surrogates_in_a_reply_are_shown_and_saved(server: OllamaServer, data_dir, tmp_path):
    server.script(Scripted(tokens=["Smile ", SPLIT_PAIR[0], SPLIT_PAIR[1] + " and ", LONE_SURROGATE, " done."]))
    app = hostile_app(server, data_dir, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "hi")
        await settle(app, pilot)
        shown = assert_inert(app)
        assert "Smile 😀 and \ufffd done." in shown
        assert "Saving failed" not in shown and "not saved" not in shown
    with Store.open(data_dir) as store:
        (conversation,) = store.conversations()
        reply = store.messages(conversation.id)[-1]
    assert (reply.status, reply.text) == ("complete", "Smile 😀 and \ufffd done.")


# -- Done when ------------------------------------------------------------------------------------------------------


async def test_done_when_html_action_markup_and_osc_52_show_literally_and_touch_nothing(
        server: OllamaServer, data_dir, tmp_path):
    server.script(Scripted(tokens=[DONE_WHEN[i:i + 4] for i in range(0, len(DONE_WHEN), 4)]))
    app = hostile_app(server, data_dir, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "show me")
        await settle(app, pilot)
        assert_inert(app)
        shown = flat(app)
        assert "A reply with Vec<String>, a block:" in shown
        assert "<details> kept </details>" in shown
        assert "and [@click=app.quit]click me[/] then ␛]52;c;aGFja2Vk␇ end." in shown
        await click_on(pilot, app, "click me")
        assert_running(app)


# -- where text is edited ----------------------------------------------------------------------------------------


async def test_a_stored_title_or_prompt_being_edited_never_reaches_the_terminal(
        server: OllamaServer, data_dir, tmp_path):
    import_shared(data_dir, title="Title \x1b]2;OWNED\x07 \u202eok")
    app = hostile_app(server, data_dir, tmp_path, show_conversations=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await app.chat_screen.open_conversation("conv_shared")
        await settle(app, pilot)
        await pilot.press("ctrl+g", "f2")  # rename: the title in an input field
        await pilot.pause()
        assert "Title ␛]2;OWNED␇ \ufffdok" in assert_inert(app)
        await pilot.press("escape")
        app.chat_screen.composer.text = "pasted \x1b[2J\x1b]52;c;aGFja2Vk\x07"  # as a paste or ↑ would put it
        await pilot.pause()
        assert "pasted ␛[2J␛]52;c;aGFja2Vk␇" in assert_inert(app)

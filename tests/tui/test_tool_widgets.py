"""The approval dialog and the tool-call row on their own, in the real app: what they show, what their keys do,
and hostile text from a model or an MCP server shown literally, never obeyed."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from salon.events import ToolCall
from salon.tui.app import SalonApp
from salon.tui.screens.approval import ApprovalScreen
from salon.tui.widgets.tool_call import OUTPUT_SHOWN, ToolCallRow
from tests.hostile import CORPUS
from tests.servers.ollama import OllamaServer
from tests.tui.conftest import make_app, screen_lines, settle, wait_for
from tests.tui.hostile_apps import SIZE, assert_inert, assert_running, click_on, flat

TOKYO = '{"timezone": "Asia/Tokyo"}'


def call(arguments: str = TOKYO, *, server: str = "time", tool: str = "get_current_time",
         status: str = "waiting", output: str | None = None, error: str | None = None) -> ToolCall:
    return ToolCall("call_1", 0, server, tool, arguments, status, output, error)  # type: ignore[arg-type]


async def ask(app: SalonApp, pilot: Pilot, pending: ToolCall, agent: str = "Clock", *,
              arm_after: float = 0.0) -> list[object]:
    """Open the dialog over the chat; the list receives its answer."""
    answers: list[object] = []
    app.push_screen(ApprovalScreen(pending, agent, arm_after=arm_after), answers.append)
    await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen), what="the dialog")
    await pilot.pause()
    return answers


# -- the dialog -------------------------------------------------------------------------------------------------


async def test_the_dialog_names_the_tool_its_server_and_the_agent_and_indents_json_arguments(
        server: OllamaServer, data_dir):
    app = make_app(server, data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await ask(app, pilot, call('{"timezone":"Asia/Tokyo","when":{"day":1}}'))
        shown = flat(app)
        assert "Clock wants to call get_current_time on the MCP server time" in shown
        lines = [line.strip(" █▌▐") for line in assert_inert(app).splitlines()]
        # Pretty JSON: one key per line, nested objects indented.
        assert '"timezone": "Asia/Tokyo",' in lines
        assert '"day": 1' in lines
        assert "Esc denies it and stops the reply; what arrived so far is kept." in shown


async def test_a_conversation_off_screen_that_asks_is_named(server: OllamaServer, data_dir):
    app = make_app(server, data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.push_screen(ApprovalScreen(call(), "Clock", where="[b]Trip[/b] planning", arm_after=0))
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen), what="the dialog")
        await pilot.pause()
        assert "In “[b]Trip[/b] planning”, Clock wants to call get_current_time" in flat(app)


async def test_arguments_that_are_not_json_are_shown_exactly_as_the_model_sent_them(server: OllamaServer, data_dir):
    app = make_app(server, data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await ask(app, pilot, call('{"timezone": Asia/Tokyo'))
        assert '{"timezone": Asia/Tokyo' in flat(app)


@pytest.mark.parametrize(("keys", "answer"), [
    (["o"], "once"), (["y"], "once"), (["a"], "always"), (["d"], "deny"), (["n"], "deny"), (["escape"], None),
    (["shift+tab", "enter"], "always"),
])
async def test_each_choice_has_a_key_and_esc_answers_stop(server: OllamaServer, data_dir, keys, answer):
    app = make_app(server, data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        answers = await ask(app, pilot, call())
        await pilot.press(*keys)
        await wait_for(pilot, lambda: answers, what="an answer")
        assert answers == [answer]
        assert not isinstance(app.screen, ApprovalScreen)


async def test_enter_on_the_dialog_as_it_opens_denies_rather_than_allows(server: OllamaServer, data_dir):
    app = make_app(server, data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        answers = await ask(app, pilot, call())
        await pilot.press("enter")
        await wait_for(pilot, lambda: answers, what="an answer")
        assert answers == ["deny"]


async def test_keys_typed_before_the_dialog_is_armed_allow_nothing(server: OllamaServer, data_dir):
    app = make_app(server, data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        answers = await ask(app, pilot, call(), arm_after=3600)  # never armed in this test
        # The user was typing "a yes or no" into the prompt box when the dialog opened.
        await pilot.press("a", "space", "y", "e", "s", "space", "o", "r", "space", "n", "o", "enter")
        await pilot.click("#once")
        await pilot.pause()
        assert answers == []
        assert isinstance(app.screen, ApprovalScreen)
        assert app.screen.query_one("#once").disabled
        await pilot.press("escape")  # stopping is never guarded
        await wait_for(pilot, lambda: answers, what="Esc's answer")
        assert answers == [None]


@pytest.mark.parametrize("name", sorted(CORPUS))
async def test_hostile_tool_server_agent_and_arguments_are_shown_literally_in_the_dialog(
        server: OllamaServer, data_dir, name):
    hostile = CORPUS[name]
    app = make_app(server, data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        answers = await ask(app, pilot, call(hostile, server=f"srv{hostile}", tool=f"t{hostile}"),
                            agent=f"A{hostile}")
        shown = assert_inert(app)
        if name in ("action", "screenshot", "inst", "close", "bold", "link"):
            assert f"t{hostile}" in flat(app) and f"srv{hostile}" in flat(app) and f"A{hostile}" in flat(app)
        if name in ("action", "screenshot"):
            await click_on(pilot, app, hostile)
            assert_running(app)
            assert answers == []
        assert "Allow this tool to run?" in shown


# -- the row ----------------------------------------------------------------------------------------------------


async def mount_row(app: SalonApp, pilot: Pilot, row: ToolCallRow) -> ToolCallRow:
    await app.chat_screen.view.chat_log.mount(row)
    await pilot.pause()
    return row


async def test_a_row_shows_server_tool_and_arguments_then_its_result_collapsed_and_expanded_by_a_click(
        server: OllamaServer, data_dir):
    app = make_app(server, data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        output = '{"timezone": "Asia/Tokyo", "datetime": "2026-12-02T23:35:00+09:00"}'
        row = await mount_row(app, pilot, ToolCallRow.of(call(status="completed", output=output)))
        shown = flat(app)
        assert '⚙ time · get_current_time {"timezone": "Asia/Tokyo"}' in shown
        assert f"▸ ✓ result: {output}" in shown
        await click_once(pilot, app, "✓ result")
        assert row.expanded
        lines = [line.strip(" ▌│") for line in screen_lines(app)]
        assert "▾ ✓ result" in lines and '"datetime": "2026-12-02T23:35:00+09:00"' in lines
        await click_once(pilot, app, "▾ ✓ result")
        assert not row.expanded
        assert f"▸ ✓ result: {output}" in flat(app)


async def click_once(pilot: Pilot, app: SalonApp, needle: str) -> None:
    """One click on the first character of ``needle`` where the screen shows it."""
    for number, line in enumerate(screen_lines(app)):
        if (column := line.find(needle)) >= 0:
            await pilot.click(offset=(column, number))
            await pilot.pause()
            return
    raise AssertionError(f"{needle!r} is not on screen")


@pytest.mark.parametrize(("status", "error", "expected"), [
    ("failed", "the tool raised ValueError: no such zone", "✗ failed: the tool raised ValueError: no such zone"),
    ("failed", "timed out after 30 s", "✗ failed: timed out after 30 s"),
    ("denied", None, "⊘ denied: the tool was not run"),
    ("cancelled", None, "■ cancelled: the reply was stopped"),
    ("waiting", None, "? waiting for your approval"),
    ("running", None, "⟳ running…"),
])
async def test_errors_denials_and_timeouts_are_shown_clearly(server: OllamaServer, data_dir, status, error, expected):
    app = make_app(server, data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await mount_row(app, pilot, ToolCallRow.of(call(status=status, error=error)))
        assert expected in flat(app)


async def test_arguments_streamed_in_pieces_are_drawn_together(server: OllamaServer, data_dir):
    app = make_app(server, data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        row = await mount_row(app, pilot, ToolCallRow("call_1", "time", "get_current_time"))
        assert "… receiving the arguments" in flat(app)
        for piece in ['{"time', 'zone": "As', 'ia/Tok', 'yo"}']:
            row.add_arguments(piece)
        await wait_for(pilot, lambda: 'get_current_time {"timezone": "Asia/Tokyo"}' in flat(app),
                       what="the arguments drawn")


async def test_a_result_of_megabytes_is_cut_when_expanded_and_says_how_much_is_left(server: OllamaServer, data_dir):
    app = make_app(server, data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        output = "x" * (3 * 1024 * 1024)
        row = await mount_row(app, pilot, ToolCallRow.of(call(status="completed", output=output)))
        row.toggle()
        await pilot.pause()
        row.query_one(".tool-result").scroll_end(animate=False, immediate=True)
        await pilot.pause()
        assert f"… {len(output) - OUTPUT_SHOWN:,} more characters not shown" in flat(app)


@pytest.mark.parametrize("name", sorted(CORPUS))
async def test_hostile_text_in_a_row_is_shown_literally_and_a_click_runs_nothing(server: OllamaServer, data_dir,
                                                                                 name):
    hostile = CORPUS[name]
    app = make_app(server, data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        row = await mount_row(app, pilot, ToolCallRow.of(call(
            hostile, server=f"s{hostile}", tool=f"t{hostile}", status="failed", output=f"out {hostile}",
            error=f"err {hostile}")))
        assert_inert(app)
        row.toggle()
        await pilot.pause()
        assert_inert(app)
        if name in ("action", "screenshot", "inst", "close", "bold", "link"):
            shown = flat(app)
            assert f"t{hostile}" in shown and f"out {hostile}" in shown and f"err {hostile}" in shown
            if name in ("action", "screenshot"):
                await click_on(pilot, app, f"out {hostile}")
                assert_running(app)


# -- a conversation kept in memory (no database could be opened) -------------------------------------------------


def test_unsaved_conversations_keep_a_replys_tool_calls_to_show_and_to_send_again():
    from salon.events import MessageCompleted, MessageCreated, StepCompleted, StepCreated
    from salon.messages import TextPart, ToolCallPart
    from salon.reply import Reply
    from salon.tui.conversation import ConversationData

    data = ConversationData(None, "clock")  # no database: the conversation lives in an in-memory store
    stops: list[Exception] = []
    exchange = data.exchange(stops.append)
    data.add_user("What time is it in Tokyo?", exchange)
    done = call(status="completed", output='{"timezone": "Asia/Tokyo"}')
    for event in (MessageCreated("run_1", "msg_1", 0, "clock", "Clock", "ollama/qwen3", True),
                  MessageCompleted("run_1", "msg_1", 0, "clock", "Clock", Reply(text="Let me check.")),
                  StepCreated("run_1", "step_1", "msg_1", 0, "clock", "Clock"),
                  StepCompleted("run_1", "step_1", (done,))):
        exchange.record(event)
    exchange.finish()
    assert not data.saved and stops == []
    [prompt, record] = data.page(0, 10)
    assert prompt.text == "What time is it in Tokyo?"
    assert record.parts == (TextPart("Let me check."), ToolCallPart.of(done))
    assert record.tool_calls[0].output == '{"timezone": "Asia/Tokyo"}'
    # The next prompt sends the model the call and its result, as the store's history does.
    user, assistant, tool = data.history()
    assert user.content == "What time is it in Tokyo?"
    assert assistant.content == "Let me check." and [r.id for r in assistant.tool_calls] == ["call_1"]
    assert (tool.role, tool.content, tool.tool_call_id) == ("tool", '{"timezone": "Asia/Tokyo"}', "call_1")

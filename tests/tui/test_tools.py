"""Agents that call MCP tools, in the chat app: the call shown while it streams, run only after the user allows it in
the dialog, its result collapsed in the reply; denial, Esc, "always". Real MCP servers over stdio (the published
``mcp-server-time``, and the lab server of ``tests/servers/mcp_tools.py`` that logs what ran), the Ollama test
server streaming the model's tool calls, the real app under ``App.run_test()``."""

from __future__ import annotations

import json
import threading

import pytest

from salon.tui.app import SalonApp
from salon.tui.screens.approval import ApprovalScreen
from salon.tui.widgets import FinalMessage, LiveMessage
from salon.tui.widgets.tool_call import ToolCallRow
from tests.hostile import CORPUS, MARKUP
from tests.servers.ollama import OllamaServer, Scripted
from tests.tools.conftest import calls_made, lab_server, time_server, write_agent
from tests.tui.conftest import send, settle, wait_for
from tests.tui.hostile_apps import SIZE, assert_inert, assert_running, click_on, flat
from tests.tui.tools_apps import ASK_TIMEOUT, add_tools_model, dialog, rows, tools_app

TOKYO = {"timezone": "Asia/Tokyo"}


@pytest.fixture
def tools_model(ollama_server: OllamaServer) -> str:
    return add_tools_model(ollama_server)


async def test_what_time_is_it_in_tokyo_the_call_is_shown_as_it_streams_and_runs_only_after_approval(
        config_dir, agents_dir, data_dir, ollama_server: OllamaServer, tools_model):
    """The issue's "Done when", in the TUI, through the real published time server."""
    write_agent(agents_dir, "clock", tools_model, ["time.*"])
    streaming = threading.Event()
    ollama_server.script(
        Scripted(text="Let me check the clock.", tool_calls=[{"name": "get_current_time", "arguments": TOKYO}],
                 hold_final=streaming),
        Scripted(text="It is late evening in Tokyo."))
    app = tools_app(config_dir, agents_dir, data_dir, ollama_server, "clock", time_server())
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "What time is it in Tokyo?")
        # The model's completion is still open (its final line held back): the call is on screen already.
        await wait_for(pilot, lambda: rows(app), timeout=ASK_TIMEOUT, what="the tool row")
        await wait_for(pilot, lambda: '⚙ time · get_current_time {"timezone": "Asia/Tokyo"}' in flat(app),
                       what="the call's arguments")
        shown = flat(app)
        assert "… receiving the arguments" in shown
        assert "Let me check the clock." in shown
        assert not isinstance(app.screen, ApprovalScreen)
        assert len(ollama_server.requests) == 1
        streaming.set()
        # Asked before it runs: the dialog names the tool, its server and the arguments; nothing has run yet.
        screen = await dialog(app, pilot)
        asked = flat(app)
        assert "Clock wants to call get_current_time on the MCP server time" in asked
        assert '"timezone": "Asia/Tokyo"' in asked
        [row] = rows(app)
        assert row.status == "waiting"
        assert len(ollama_server.requests) == 1, "the model was answered before the user allowed the call"
        await pilot.press("o")
        await wait_for(pilot, lambda: not isinstance(app.screen, ApprovalScreen), what="the dialog closed")
        await wait_for(pilot, lambda: not app.chat_screen.view.busy, timeout=ASK_TIMEOUT, what="the reply done")
        await settle(app, pilot)
        assert screen.is_attached is False
        [row] = rows(app)
        assert row.status == "completed"
        assert json.loads(row.output or "")["timezone"] == "Asia/Tokyo"
        shown = flat(app)
        assert "▸ ✓ result: {" in shown and "It is late evening in Tokyo." in shown
        # The text before the call, the call, the text after: in that order on screen.
        assert shown.index("Let me check the clock.") < shown.index("⚙ time · get_current_time") \
            < shown.index("It is late evening in Tokyo.")
        # The result went back to the model only after the approval.
        tool_message = ollama_server.requests[1]["messages"][-1]
        assert tool_message["role"] == "tool" and json.loads(tool_message["content"])["timezone"] == "Asia/Tokyo"
        # t on the reply (the messages focused) shows the whole result; again, collapses it.
        app.chat_screen.view.chat_log.focus()
        log = app.chat_screen.view.chat_log
        log._select(next(m for m in log.messages() if m.query(ToolCallRow)))
        await pilot.press("t")
        await pilot.pause()
        assert row.expanded and '"timezone": "Asia/Tokyo",' in [line.strip(" ▌│║") for line in
                                                                 _lines(app)]
        await pilot.press("t")
        await pilot.pause()
        assert not row.expanded


def _lines(app: SalonApp) -> list[str]:
    from tests.tui.conftest import screen_lines

    return screen_lines(app)


async def test_a_denied_call_never_runs_and_the_reply_goes_on(config_dir, agents_dir, data_dir,
                                                             ollama_server: OllamaServer, tools_model, lab_log):
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"])
    ollama_server.script(Scripted(text="", tool_calls=[{"name": "echo", "arguments": {"text": "secret"}}]),
                         Scripted(text="Understood, I will not."))
    app = tools_app(config_dir, agents_dir, data_dir, ollama_server, "labbie", lab_server(lab_log))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "Echo my secret")
        await dialog(app, pilot)
        await pilot.press("d")
        await wait_for(pilot, lambda: not app.chat_screen.view.busy, timeout=ASK_TIMEOUT, what="the reply done")
        await settle(app, pilot)
        shown = flat(app)
        assert "⊘ denied: the tool was not run" in shown
        assert "Understood, I will not." in shown
        # A completion that opened with the call has no text: the row stands for it, not "(no text)".
        assert "(no text)" not in shown
        assert calls_made(lab_log) == []


async def test_esc_in_the_dialog_stops_the_reply_runs_nothing_and_keeps_what_arrived(
        config_dir, agents_dir, data_dir, ollama_server: OllamaServer, tools_model, lab_log):
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"])
    ollama_server.script(Scripted(text="I will echo it.", tool_calls=[{"name": "echo", "arguments": {"text": "x"}}]),
                         Scripted(text="Second answer."))
    app = tools_app(config_dir, agents_dir, data_dir, ollama_server, "labbie", lab_server(lab_log))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "Echo x")
        await dialog(app, pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.chat_screen.view.busy, timeout=ASK_TIMEOUT, what="the run stopped")
        await settle(app, pilot)
        shown = flat(app)
        assert "I will echo it." in shown
        assert "■ cancelled: the reply was stopped" in shown
        assert "Stopped: the tool was not run." in shown  # the notice
        assert calls_made(lab_log) == []
        assert len(ollama_server.requests) == 1
        # The app goes on: the next prompt is answered.
        await send(app, pilot, "Just talk")
        await wait_for(pilot, lambda: "Second answer." in flat(app), timeout=ASK_TIMEOUT, what="the next reply")


async def test_esc_while_a_tool_runs_stops_the_reply_and_says_so(config_dir, agents_dir, data_dir,
                                                                ollama_server: OllamaServer, tools_model, lab_log):
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"])
    ollama_server.script(Scripted(text="Waiting on it.", tool_calls=[{"name": "hang", "arguments": {}}]))
    app = tools_app(config_dir, agents_dir, data_dir, ollama_server, "labbie", lab_server(lab_log, timeout=600))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "Take your time")
        await dialog(app, pilot)
        await pilot.press("o")
        await wait_for(pilot, lambda: "⟳ running…" in flat(app) and calls_made(lab_log), timeout=ASK_TIMEOUT,
                       what="the tool running")
        app.chat_screen.composer.focus()
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.chat_screen.view.busy, timeout=ASK_TIMEOUT, what="the run stopped")
        await settle(app, pilot)
        shown = flat(app)
        assert "Waiting on it." in shown
        assert "Stopped while a tool was running" in shown
        assert "■ cancelled" in shown
        [row] = rows(app)
        assert row.status == "cancelled"


async def test_a_call_the_users_config_allows_shows_running_while_it_runs(config_dir, agents_dir, data_dir,
                                                                          ollama_server: OllamaServer, tools_model,
                                                                          lab_log):
    # No question is asked (approve = "auto"), so nothing but the run's own word says the call now runs: the row
    # must not go on saying its arguments are still arriving while the tool works.
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"])
    ollama_server.script(Scripted(text="Checking.", tool_calls=[{"name": "hang", "arguments": {}}]))
    app = tools_app(config_dir, agents_dir, data_dir, ollama_server, "labbie",
                    lab_server(lab_log, timeout=600, approve="auto"))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "Take your time")
        await wait_for(pilot, lambda: bool(calls_made(lab_log)), timeout=ASK_TIMEOUT, what="the tool called")
        await wait_for(pilot, lambda: "⟳ running…" in flat(app), timeout=ASK_TIMEOUT, what="the row running")
        [row] = rows(app)
        assert row.status == "running"
        assert not app.screen_stack[1:]  # never asked
        app.chat_screen.composer.focus()
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.chat_screen.view.busy, timeout=ASK_TIMEOUT, what="the run stopped")


async def test_allow_always_is_not_asked_again_for_this_agent(config_dir, agents_dir, data_dir,
                                                              ollama_server: OllamaServer, tools_model, lab_log):
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"])
    call = [{"name": "echo", "arguments": {"text": "hi"}}]
    ollama_server.script(Scripted(text="", tool_calls=call), Scripted(text="One."),
                         Scripted(text="", tool_calls=call), Scripted(text="Two."))
    app = tools_app(config_dir, agents_dir, data_dir, ollama_server, "labbie", lab_server(lab_log))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "Once")
        await dialog(app, pilot)
        await pilot.press("a")
        await wait_for(pilot, lambda: "One." in flat(app), timeout=ASK_TIMEOUT, what="the first reply")
        await settle(app, pilot)
        await send(app, pilot, "Twice")
        await wait_for(pilot, lambda: "Two." in flat(app), timeout=ASK_TIMEOUT, what="the second reply, unasked")
        assert calls_made(lab_log) == ["echo [('text', 'hi')]"] * 2
    # The run, not the dialog, remembered it, in the user's config.
    assert "labbie" in (config_dir / "config.toml").read_text(encoding="utf-8")


async def test_a_hidden_streaming_agent_shows_its_tool_calls_too(config_dir, agents_dir, data_dir,
                                                                 ollama_server: OllamaServer, tools_model, lab_log):
    write_agent(agents_dir, "quiet", tools_model, ["lab.*"], "show_streaming_message = false\n")
    ollama_server.script(Scripted(text="", tool_calls=[{"name": "clock", "arguments": TOKYO}]),
                         Scripted(text="Late evening."))
    app = tools_app(config_dir, agents_dir, data_dir, ollama_server, "quiet", lab_server(lab_log))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "Time?")
        await dialog(app, pilot)
        # Its text is hidden while it streams; the tool step is named in the status line and in the row.
        status = str(app.chat_screen.status.render())
        assert "tool lab · clock: ? waiting for your approval" in status
        assert "? waiting for your approval" in flat(app)
        await pilot.press("o")
        await wait_for(pilot, lambda: not app.chat_screen.view.busy, timeout=ASK_TIMEOUT, what="the reply done")
        await settle(app, pilot)
        assert not app.chat_screen.query(LiveMessage)
        assert "▸ ✓ result" in flat(app) and "Late evening." in flat(app)
        assert len(app.chat_screen.query(FinalMessage)) == 2
        assert "tool " not in str(app.chat_screen.status.render())


async def test_a_reopened_conversation_shows_its_tool_calls_from_the_store(config_dir, agents_dir, data_dir,
                                                                          ollama_server: OllamaServer, tools_model,
                                                                          lab_log):
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"])
    ollama_server.script(
        Scripted(text="Looking.", tool_calls=[{"name": "clock", "arguments": TOKYO},
                                              {"name": "fail", "arguments": {"reason": "no disk"}}]),
        Scripted(text="Half of it worked."))
    tables = lab_server(lab_log)
    app = tools_app(config_dir, agents_dir, data_dir, ollama_server, "labbie", tables)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "Time, then fail")
        await dialog(app, pilot)
        await pilot.press("o")
        await dialog(app, pilot)  # the second call of the same reply, asked next
        await pilot.press("o")
        await wait_for(pilot, lambda: not app.chat_screen.view.busy, timeout=ASK_TIMEOUT, what="the reply done")
        await settle(app, pilot)
        live = flat(app)
        conversation_id = app.chat_screen.view.data.conversation_id
    assert conversation_id is not None
    again = tools_app(config_dir, agents_dir, data_dir, ollama_server, "labbie", tables)
    async with again.run_test(size=SIZE) as pilot:
        await settle(again, pilot)
        await again.chat_screen.open_conversation(conversation_id)
        await settle(again, pilot)
        shown = flat(again)
        for piece in ("Looking.", '⚙ lab · clock {"timezone": "Asia/Tokyo"}', "▸ ✓ result: {",
                      '⚙ lab · fail {"reason": "no disk"}', "✗ failed", "no disk", "Half of it worked."):
            assert piece in live, f"{piece!r} was not shown live"
            assert piece in shown, f"{piece!r} is not shown after reopening"
        assert shown.index("Looking.") < shown.index("⚙ lab · clock") < shown.index("⚙ lab · fail") \
            < shown.index("Half of it worked.")
        [clock, fail] = rows(again)
        assert (clock.status, fail.status) == ("completed", "failed")
        clock.toggle()
        await pilot.pause()
        assert '"datetime": "2026-12-02T23:30:00+09:00"' in flat(again)


async def test_hostile_arguments_results_and_tool_names_from_a_real_run_are_shown_literally(
        config_dir, agents_dir, data_dir, ollama_server: OllamaServer, tools_model, lab_log):
    """Every string of the hostile corpus as a model's arguments and an MCP server's answer (echo says it back), and
    a tool name of markup: shown as text in the rows, collapsed and expanded; a click runs nothing. (The user's
    config lets this server's calls run unasked; the dialog gets the same corpus in test_tool_widgets.py.)"""
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"])
    calls = [{"name": "echo", "arguments": {"text": value}} for value in CORPUS.values()]
    calls.append({"name": MARKUP["action"], "arguments": {"x": MARKUP["screenshot"]}})
    ollama_server.script(Scripted(text="Echoing.", tool_calls=calls), Scripted(text="Done echoing."))
    app = tools_app(config_dir, agents_dir, data_dir, ollama_server, "labbie", lab_server(lab_log, approve="auto"))
    async with app.run_test(size=(140, 130), notifications=True) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "Echo everything")
        await wait_for(pilot, lambda: rows(app), timeout=ASK_TIMEOUT, what="the rows")
        assert_inert(app)
        await wait_for(pilot, lambda: not app.chat_screen.view.busy, timeout=ASK_TIMEOUT, what="the reply done")
        await settle(app, pilot)
        assert "Done echoing." in flat(app)
        assert len(calls_made(lab_log)) == len(CORPUS)
        assert not isinstance(app.screen, ApprovalScreen), "approve = \"auto\" in the user's config asks nothing"
        app.chat_screen.view.chat_log.focus()
        await pilot.press("up", "t")
        await wait_for(pilot, lambda: all(row.expanded for row in rows(app)), what="every result expanded")
        shown = assert_inert(app)
        words = flat(app)
        for value in MARKUP.values():
            assert value in words
        # The unknown tool named with markup failed without running, and says so.
        assert f"the model asked for a tool it was not offered: '{MARKUP['action']}'" in " ".join(shown.split())
        await click_on(pilot, app, MARKUP["action"])
        assert_running(app)


async def test_a_server_that_will_not_start_is_a_notice_and_the_reply_goes_on(config_dir, agents_dir, data_dir,
                                                                             ollama_server: OllamaServer,
                                                                             tools_model, lab_log):
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"])
    ollama_server.script(Scripted(text="The lab is closed today."))
    app = tools_app(config_dir, agents_dir, data_dir, ollama_server, "labbie", lab_server(lab_log, "--exit-at-start"))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "Echo this")
        await wait_for(pilot, lambda: not app.chat_screen.view.busy, timeout=ASK_TIMEOUT, what="the reply done")
        await settle(app, pilot)
        await wait_for(pilot, lambda: "Tools unavailable" in flat(app), what="the notice")
        shown = flat(app)
        assert "The lab is closed today." in shown
        assert "the tools of MCP server 'lab' are not available" in shown
        assert "'lab' could not be started" in ollama_server.requests[0]["messages"][0]["content"]

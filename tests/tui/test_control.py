"""Controlling replies: stop, queue, several conversations, regenerate, edit and resend, copy, follow mode."""

from __future__ import annotations

import threading

from salon.tui.widgets import ChatLog, FinalMessage, LiveMessage, UserMessage
from tests.servers.ollama import OllamaServer, Scripted
from tests.tui.conftest import make_app, screen_text, send, settle, wait_for


async def _stalled(app, pilot, written: str) -> LiveMessage:
    await wait_for(pilot, lambda: app.screen.query(LiveMessage), what="a live reply")
    live = app.screen.query_one(LiveMessage)
    await wait_for(pilot, lambda: live.written == written, what=f"{written!r} on screen")
    return live


async def test_escape_stops_the_reply_and_keeps_the_partial_text(server: OllamaServer, data_dir):
    server.script(Scripted(text="The first words and then nothing more", stall_after=3))
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "go")
        await _stalled(app, pilot, "The first words")
        await pilot.press("escape")
        await settle(app, pilot)
        final = app.screen.query_one(FinalMessage)
        assert final.record.status == "interrupted"
        assert final.record.text == "The first words"
        shown = screen_text(app)
        assert "The first words" in shown
        assert "interrupted ·" in shown
        assert "stopped" in shown


async def test_a_prompt_sent_while_a_reply_streams_waits_its_turn(server: OllamaServer, data_dir):
    # The first reply is held open until the second prompt is seen queued, however loaded the machine.
    queued_seen = threading.Event()
    server.script(Scripted(text="one two three four five six", rate=3, hold_final=queued_seen),
                  Scripted(text="Second answer."))
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "first")
        await wait_for(pilot, lambda: app.screen.query(LiveMessage))
        await send(app, pilot, "second")
        await pilot.pause()
        assert "Queued" in screen_text(app)
        assert len(server.requests) == 1, "never two replies at once in one conversation"
        assert app.chat_screen.composer.text == ""
        queued_seen.set()
        await settle(app, pilot)
        await settle(app, pilot)
        assert len(server.requests) == 2
        # The second request went out after the first reply had ended: it carries that reply.
        assert server.requests[1]["messages"][-2:] == [
            {"role": "assistant", "content": "one two three four five six"},
            {"role": "user", "content": "second"},
        ]
        texts = [m.record.text for m in app.chat_screen.view.chat_log.records()]
        assert texts == ["first", "one two three four five six", "second", "Second answer."]
        assert [w.record.text for w in app.screen.query(UserMessage)] == ["first", "second"]


async def test_a_third_prompt_while_one_is_queued_is_refused_and_kept(server: OllamaServer, data_dir):
    server.script(Scripted(text="slow", stall_after=0, stall_seconds=5))
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "first")
        await wait_for(pilot, lambda: app.screen.query(LiveMessage))
        await send(app, pilot, "second")
        await send(app, pilot, "third")
        await pilot.pause()
        assert app.chat_screen.composer.text == "third"
        assert "already queued" in screen_text(app)
        await pilot.press("escape")
        await settle(app, pilot)
        # Esc stopped the reply and took the queued prompt back: nothing was sent behind the user's back.
        assert len(server.requests) == 1


async def test_two_conversations_stream_at_once(server: OllamaServer, data_dir):
    # Both replies stay open until both are seen replying: on a loaded machine the first could otherwise end before
    # the second begins, and "two at once" would not be what is tested.
    both_seen = threading.Event()
    server.script(Scripted(text="alpha " * 20, rate=20, hold_final=both_seen),
                  Scripted(text="beta " * 20, rate=20, hold_final=both_seen))
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "first conversation")
        await wait_for(pilot, lambda: app.screen.query(LiveMessage))
        first = app.chat_screen.view
        await pilot.press("ctrl+n")
        assert app.chat_screen.view is not first
        await send(app, pilot, "second conversation")
        await wait_for(pilot, lambda: "2 replies" in screen_text(app), what="both replying")
        both_seen.set()
        await settle(app, pilot)
        await settle(app, pilot)
        second = app.chat_screen.view
        assert [m.record.text for m in second.chat_log.records()] == ["second conversation", "beta " * 20]
        assert first.data.conversation_id and first.data.conversation_id != second.data.conversation_id
        stored = app.services.store.messages(first.data.conversation_id)
        assert [m.text for m in stored] == ["first conversation", "alpha " * 20]


async def test_regenerate_replaces_the_last_reply(server: OllamaServer, data_dir):
    server.script(Scripted(text="First try."), Scripted(text="Second try."))
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "question")
        await settle(app, pilot)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        shown = screen_text(app)
        assert "Second try." in shown
        assert "First try." not in shown
        assert [m.record.text for m in app.chat_screen.view.chat_log.records()] == ["question", "Second try."]
        assert server.requests[1]["messages"][-1] == {"role": "user", "content": "question"}
        assert len(app.services.store.messages(app.chat_screen.view.data.conversation_id)) == 2


async def test_edit_and_resend_the_last_prompt(server: OllamaServer, data_dir):
    server.script(Scripted(text="Answer to the typo."), Scripted(text="Answer to the fix."))
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "what is teh time")
        await settle(app, pilot)
        await pilot.press("up")
        composer = app.chat_screen.composer
        assert composer.text == "what is teh time"
        assert "Editing your last prompt" in screen_text(app)
        composer.text = "what is the time"
        await pilot.press("enter")
        await settle(app, pilot)
        texts = [m.record.text for m in app.chat_screen.view.chat_log.records()]
        assert texts == ["what is the time", "Answer to the fix."]
        assert server.requests[1]["messages"][-1] == {"role": "user", "content": "what is the time"}
        assert len(server.requests[1]["messages"]) == 2  # system + the edited prompt: the old exchange is gone


async def test_escape_cancels_an_edit_and_keeps_the_exchange(server: OllamaServer, data_dir):
    server.script(Scripted(text="Kept."))
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "keep me")
        await settle(app, pilot)
        await pilot.press("up")
        await pilot.press("escape")
        assert app.chat_screen.composer.text == ""
        assert app.chat_screen.composer.editing is None
        assert [m.record.text for m in app.chat_screen.view.chat_log.records()] == ["keep me", "Kept."]


async def test_copy_a_message_and_its_code_blocks(server: OllamaServer, data_dir):
    reply = "Two blocks:\n\n```python\nprint(1)\n```\n\nand\n\n```sh\necho two\n```\n"
    server.script(Scripted(text=reply))
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "code please")
        await settle(app, pilot)
        await pilot.press("tab")
        assert isinstance(app.focused, ChatLog)
        await pilot.press("c")
        assert app.clipboard == reply
        await pilot.press("y")
        assert app.clipboard == "print(1)"
        await pilot.press("y")
        assert app.clipboard == "echo two"
        await pilot.press("up", "c")
        assert app.clipboard == "code please"


async def test_copy_from_the_command_palette(server: OllamaServer, data_dir):
    server.script(Scripted(text="Copy me."))
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "hi")
        await settle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        for key in "copy the last reply":
            await pilot.press(key if key != " " else "space")
        await wait_for(pilot, lambda: "Copy the last reply" in screen_text(app))
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.clipboard == "Copy me."


async def test_follow_mode_stops_when_the_user_scrolls_up(server: OllamaServer, data_dir):
    long = "\n\n".join(f"Paragraph {n} of a long reply." for n in range(200))
    server.script(Scripted(text=long, rate=100))
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "long")
        log = app.chat_screen.view.chat_log
        await wait_for(pilot, lambda: log.max_scroll_y > 20, what="a reply taller than the screen")
        assert log.scroll_y == log.max_scroll_y, "at the bottom, the view follows the reply"
        log.scroll_to(y=5, animate=False, immediate=True)
        await pilot.pause()
        grown = log.max_scroll_y
        await wait_for(pilot, lambda: log.max_scroll_y > grown + 10, what="more of the reply")
        assert log.scroll_y == 5, "scrolled up, the view stays where the user put it"
        await pilot.press("h", "i")  # typing goes on while the reply streams
        assert app.chat_screen.composer.text == "hi"
        log.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        grown = log.max_scroll_y
        await wait_for(pilot, lambda: log.max_scroll_y > grown + 5)
        assert log.scroll_y == log.max_scroll_y, "back at the bottom, it follows again"
        await pilot.press("escape")
        await settle(app, pilot)


async def test_quitting_mid_reply_keeps_it_as_interrupted(server: OllamaServer, data_dir):
    server.script(Scripted(text="Words that were already here when the user quit", stall_after=4))
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "go")
        await _stalled(app, pilot, "Words that were already")
        conversation_id = app.chat_screen.view.data.conversation_id
        await pilot.press("ctrl+q")
        await pilot.pause()
    from salon.store import Store

    with Store.open(data_dir) as store:
        prompt, reply = store.messages(conversation_id)
        assert (prompt.text, reply.text, reply.status) == ("go", "Words that were already", "interrupted")

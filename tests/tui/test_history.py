"""Conversations that last, in the TUI: the list, reopening, rename, delete, search, very long conversations."""

from __future__ import annotations

from salon.store import Conversation, Store, StoredMessage
from salon.tui.screens.confirm import ConfirmScreen
from salon.tui.screens.search import SearchScreen
from salon.tui.screens.text_prompt import TextPrompt
from salon.tui.widgets import ConversationList, FinalMessage, MessageBox
from salon.tui.widgets.chat_log import MAX_MOUNTED
from tests.servers.ollama import OllamaServer, Scripted
from tests.tui.conftest import make_app, screen_text, send, settle, wait_for


def _message(conversation_id: str, index: int, role: str, text: str, status: str = "complete") -> StoredMessage:
    assistant = role == "assistant"
    return StoredMessage(
        id=f"msg_{conversation_id}_{index}", conversation_id=conversation_id, role=role, text=text, thinking="",
        agent_id="assistant" if assistant else None, agent_name="Assistant" if assistant else None,
        model="ollama/llama3.2" if assistant else None, status=status, input_tokens=10 if assistant else None,
        output_tokens=5 if assistant else None, usage_estimated=False, time_to_first_token=None,
        duration=1.0 if assistant else None, tokens_per_second=5.0 if assistant else None, finish_reason=None,
        error=None, created_at=1_700_000_000.0 + index)


def seed(data_dir, conversations: dict[str, list[tuple[str, str]]], *, statuses: dict[int, str] | None = None,
         agent: str = "assistant") -> list[str]:
    """Store conversations (title → [(role, text)…]), the first given the oldest."""
    items = []
    for number, (title, messages) in enumerate(conversations.items()):
        conversation_id = f"conv_{number:04d}"
        at = 1_700_000_000.0 + number * 100
        conversation = Conversation(conversation_id, title, agent, at, at, len(messages))
        items.append((conversation, [_message(conversation_id, i, role, text, (statuses or {}).get(i, "complete"))
                                     for i, (role, text) in enumerate(messages)]))
    with Store.open(data_dir) as store:
        imported, _ = store.import_conversations(items)
    return imported


async def test_the_list_shows_conversations_newest_first(server: OllamaServer, data_dir):
    seed(data_dir, {"Older chat": [("user", "a"), ("assistant", "b")],
                    "Newer chat": [("user", "c"), ("assistant", "d")]})
    app = make_app(server, data_dir, show_conversations=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        # The list loads after the first frame: on a busy machine, later than the workers settle.
        await wait_for(pilot, lambda: "Older chat" in screen_text(app) and "Newer chat" in screen_text(app),
                       what="both conversations listed")
        lines = screen_text(app).splitlines()
        newer = next(i for i, line in enumerate(lines) if "Newer chat" in line)
        older = next(i for i, line in enumerate(lines) if "Older chat" in line)
        assert newer < older
        assert "2 messages" in lines[newer + 1]


async def test_a_new_conversation_is_titled_from_its_first_prompt(server: OllamaServer, data_dir):
    app = make_app(server, data_dir, show_conversations=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert "No conversations yet" in screen_text(app)
        await send(app, pilot, "How do tides work?\nAnd why twice a day?")
        await settle(app, pilot)
        assert "How do tides work?" in screen_text(app).splitlines()[0]


async def test_ctrl_g_shows_and_hides_the_list(server: OllamaServer, data_dir):
    seed(data_dir, {"A chat": [("user", "a")]})
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert "A chat" not in screen_text(app)
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert "A chat" in screen_text(app)
        assert isinstance(app.focused, ConversationList)
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert "A chat" not in screen_text(app)


async def test_reopen_a_conversation_and_continue_it(server: OllamaServer, data_dir):
    seed(data_dir, {"Cooking": [("user", "How long do I boil an egg?"), ("assistant", "About nine minutes.")],
                    "Other": [("user", "x"), ("assistant", "y")]})
    server.script(Scripted(text="Then cool it in cold water."))
    app = make_app(server, data_dir, show_conversations=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+g")  # focus the list (shown already)
        await pilot.press("down", "enter")  # the second newest: Cooking
        await settle(app, pilot)
        shown = screen_text(app)
        assert "How long do I boil an egg?" in shown and "About nine minutes." in shown
        assert "● Cooking" in shown, "the list marks the conversation on screen"
        await send(app, pilot, "And then?")
        await settle(app, pilot)
        assert server.requests[-1]["messages"][1:] == [
            {"role": "user", "content": "How long do I boil an egg?"},
            {"role": "assistant", "content": "About nine minutes."},
            {"role": "user", "content": "And then?"}]
        with Store.open(data_dir) as store:
            assert [m.text for m in store.messages("conv_0000")][-1] == "Then cool it in cold water."


async def test_a_reply_cut_off_by_a_crash_reopens_as_interrupted(server: OllamaServer, data_dir):
    seed(data_dir, {"Crashed": [("user", "tell me"), ("assistant", "Half a sen")]}, statuses={1: "streaming"})
    app = make_app(server, data_dir, show_conversations=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await app.chat_screen.open_conversation("conv_0000")
        await pilot.pause()
        final = app.screen.query_one(FinalMessage)
        assert final.record.status == "interrupted"
        assert "interrupted ·" in screen_text(app)
        assert "Half a sen" in screen_text(app)


async def test_rename_a_conversation(server: OllamaServer, data_dir):
    seed(data_dir, {"Old title": [("user", "a")]})
    app = make_app(server, data_dir, show_conversations=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+g", "f2")
        await pilot.pause()
        assert isinstance(app.screen, TextPrompt)
        await pilot.press("ctrl+a" if False else "end")
        for _ in "Old title":
            await pilot.press("backspace")
        for key in "Kept title":
            await pilot.press(key if key != " " else "space")
        await pilot.press("enter")
        await pilot.pause()
        assert "Kept title" in screen_text(app)
        with Store.open(data_dir) as store:
            assert store.conversation("conv_0000").title == "Kept title"


async def test_delete_asks_first_and_no_keeps_it(server: OllamaServer, data_dir):
    seed(data_dir, {"Precious": [("user", "a")]})
    app = make_app(server, data_dir, show_conversations=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+g", "delete")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "“Precious” and its 1 messages will be gone" in screen_text(app)
        await pilot.press("n")
        await pilot.pause()
        assert "Precious" in screen_text(app)
        with Store.open(data_dir) as store:
            assert [c.title for c in store.conversations()] == ["Precious"]


async def test_delete_after_yes_removes_it_everywhere(server: OllamaServer, data_dir):
    seed(data_dir, {"Doomed": [("user", "a"), ("assistant", "b")]})
    app = make_app(server, data_dir, show_conversations=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await app.chat_screen.open_conversation("conv_0000")
        await pilot.pause()
        await pilot.press("ctrl+g", "d", "y")
        await settle(app, pilot)
        assert "Doomed" not in screen_text(app)
        assert not app.screen.query(MessageBox), "the open conversation was deleted: a fresh one replaces it"
        with Store.open(data_dir) as store:
            assert store.conversations() == []


async def test_search_finds_a_message_and_opens_its_conversation(server: OllamaServer, data_dir):
    filler = [(("user", f"question {n}") if n % 2 == 0 else ("assistant", f"answer {n}")) for n in range(200)]
    filler[31] = ("assistant", "The platypus lays eggs.")
    seed(data_dir, {"Zoology": filler, "Other": [("user", "nothing here")]})
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+f")
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen)
        for key in "platyp":
            await pilot.press(key)
        await wait_for(pilot, lambda: "Zoology" in screen_text(app), what="a hit")
        assert "platypus" in screen_text(app)
        await pilot.press("enter")
        await settle(app, pilot)
        view = app.chat_screen.view
        assert view.data.conversation_id == "conv_0000"
        assert view.chat_log.selected is not None and view.chat_log.selected.record.text == "The platypus lays eggs."
        assert "The platypus lays eggs." in screen_text(app)


async def test_a_ten_thousand_message_conversation_mounts_only_a_window(server: OllamaServer, data_dir):
    messages = [("user", f"prompt {n}") if n % 2 == 0 else ("assistant", f"reply **{n}**") for n in range(10_000)]
    seed(data_dir, {"Marathon": messages})
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        # How long it takes is a figure (bench/responsiveness.py); here: what is mounted and shown.
        await app.chat_screen.open_conversation("conv_0000")
        await pilot.pause()
        log = app.chat_screen.view.chat_log
        assert len(app.screen.query(MessageBox)) <= MAX_MOUNTED
        assert "reply 9999" in screen_text(app)
        for _ in range(8):  # scroll up through several pages
            log.scroll_home(animate=False, immediate=True)
            await settle(app, pilot)
        start, end = log.window
        assert start < 10_000 - 3 * 20, "older pages were mounted while scrolling up"
        assert len(app.screen.query(MessageBox)) <= MAX_MOUNTED
        assert end - start == len(log.records())
        assert end < 10_000, "the newest were let go while far above them"
        for _ in range(3):  # and back down: newer pages come back
            log.scroll_end(animate=False, immediate=True)
            await settle(app, pilot)
        assert log.window[1] > end
        assert len(app.screen.query(MessageBox)) <= MAX_MOUNTED
        texts = [m.record.text for m in log.records()]
        first = int(texts[0].split()[-1].strip("*"))
        assert texts == [f"prompt {n}" if n % 2 == 0 else f"reply **{n}**" for n in range(first, first + len(texts))]
        await pilot.press("tab", "end")
        await settle(app, pilot)
        assert "reply 9999" in screen_text(app)


async def test_the_list_reads_conversations_a_page_at_a_time(server: OllamaServer, data_dir):
    seed(data_dir, {f"Chat {n}": [("user", "x")] for n in range(120)})
    app = make_app(server, data_dir, show_conversations=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        listing = app.screen.query_one(ConversationList)
        assert listing.option_count == 50
        await pilot.press("ctrl+g", "end")
        await pilot.pause()
        assert listing.option_count == 100
        assert "Chat 119" in screen_text(app).splitlines()[0] or listing.conversations[0].title == "Chat 119"


async def test_short_messages_fill_the_view_from_older_pages(server: OllamaServer, data_dir):
    seed(data_dir, {"Terse": [("user", f"q{n}") if n % 2 == 0 else ("assistant", f"a{n}") for n in range(100)]})
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await app.chat_screen.open_conversation("conv_0000")
        await settle(app, pilot)
        # Older pages mount a frame at a time until the view can scroll: waited for, not counted in frames (five
        # settles were not enough once on a loaded machine).
        await wait_for(pilot, lambda: app.chat_screen.view.chat_log.max_scroll_y > 0, timeout=60,
                       what="enough mounted to fill the screen and scroll")
        await settle(app, pilot)
        log = app.chat_screen.view.chat_log
        assert log.window[1] == 100
        assert "a99" in screen_text(app)

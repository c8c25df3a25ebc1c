"""One exchange, saved the same way by every face: the prompt first, the run as it streams, a failing disk told once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from salon.api import Session
from salon.config.read import Config
from salon.events import MessageCompleted, MessageDelta, RunCompleted
from salon.reply import Reply
from salon.store import Exchange, Store, StoreError, sent_to_model
from tests.servers.ollama import OllamaServer, Scripted


@pytest.fixture
def store(data_dir: Path) -> Iterator[Store]:
    with Store.open(data_dir, secrets=()) as opened:
        yield opened


class Ticking:
    """A clock that moves a second each time it is read: every delta is due a checkpoint."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_the_prompt_is_kept_before_anything_is_sent(store: Store, ollama_server: OllamaServer) -> None:
    exchange = Exchange(store, agent_id="assistant")
    exchange.write_prompt("What is virtue?")
    assert exchange.conversation_id is not None
    assert [(m.role, m.text) for m in store.messages(exchange.conversation_id)] == [("user", "What is virtue?")]
    assert store.conversation(exchange.conversation_id).agent_id == "assistant"
    assert ollama_server.state.requests == []


async def test_a_followed_run_is_saved_with_checkpoints_then_its_final_text(
        store: Store, config: Config, ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(tokens=["Know ", "thy", "self."]))
    exchange = Exchange(store, agent_id="assistant", clock=Ticking())
    exchange.write_prompt("Advice?")
    seen_mid_stream: list[tuple[str, str]] = []
    async with Session(config) as session:
        run = session.run("assistant", None, history=exchange.history())
        async for event in exchange.follow(run):
            if isinstance(event, MessageDelta) and event.text == "thy":
                reply = store.messages(exchange.conversation_id)[-1]
                seen_mid_stream.append((reply.status, reply.text))
    assert seen_mid_stream == [("streaming", "Know thy")]
    prompt, reply = store.messages(exchange.conversation_id)
    assert (prompt.role, prompt.text) == ("user", "Advice?")
    assert (reply.role, reply.text, reply.status) == ("assistant", "Know thyself.", "complete")
    assert ollama_server.state.requests[-1]["messages"][-1] == {"role": "user", "content": "Advice?"}


async def test_a_store_failing_mid_reply_stops_saving_warns_once_and_the_run_goes_on(
        store: Store, config: Config, ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(tokens=["one ", "two ", "three ", "four"]))
    warnings: list[StoreError] = []
    exchange = Exchange(store, agent_id="assistant", on_stop=warnings.append, clock=Ticking())
    exchange.write_prompt("Count.")
    events = []
    async with Session(config) as session:
        async for event in exchange.follow(session.run("assistant", None, history=exchange.history())):
            events.append(event)
            if isinstance(event, MessageDelta) and event.text == "one ":
                store.close()  # the database goes away under the reply
    assert isinstance(events[-1], RunCompleted)
    assert [e.reply.text for e in events if isinstance(e, MessageCompleted)] == ["one two three four"]
    assert len(warnings) == 1 and not exchange.saving and exchange.stopped is warnings[0]


def test_an_exchange_without_a_store_saves_nothing_and_says_why_it_cannot_write() -> None:
    exchange = Exchange(None)
    assert not exchange.saving and exchange.history() == []
    with pytest.raises(StoreError):
        exchange.write_prompt("hi")


def test_the_history_a_model_is_sent_follows_one_rule(store: Store) -> None:
    conversation = store.create_conversation("assistant")
    kept = {"complete": "A full reply.", "interrupted": "A partial rep", "failed": ""}
    store.add_user_message(conversation.id, "First?")
    for number, (status, text) in enumerate(kept.items()):
        store.start_reply(conversation.id, f"msg_{number}", agent_id="assistant", agent_name="Assistant",
                          model="ollama/llama3.2")
        store.finish_reply(f"msg_{number}", Reply(text=text, model="ollama/llama3.2"), status,  # type: ignore[arg-type]
                           "it broke" if status == "failed" else None)
    store.start_reply(conversation.id, "msg_empty", agent_id="assistant", agent_name="Assistant",
                      model="ollama/llama3.2")
    store.finish_reply("msg_empty", Reply(text="", model="ollama/llama3.2"), "interrupted")
    store.add_user_message(conversation.id, "Second?")
    stored = store.messages(conversation.id)
    in_memory = [(m.role, m.text) for m in stored if sent_to_model(m.role, m.text, m.status)]
    assert in_memory == [(m.role, m.content) for m in store.history(conversation.id)]
    assert in_memory == [("user", "First?"), ("assistant", "A full reply."), ("assistant", "A partial rep"),
                         ("user", "Second?")]


async def test_a_chat_whose_database_is_deleted_mid_reply_goes_on_in_memory_with_all_that_was_said(
        data_dir: Path, config: Config, ollama_server: OllamaServer) -> None:
    from salon.messages import ChatMessage
    from salon.tui.conversation import ConversationData

    ollama_server.script(Scripted(tokens=["one ", "two ", "three ", "four"]), Scripted(text="Five."))
    with Store.open(data_dir, secrets=()) as store:
        data = ConversationData(store, "assistant")
        warnings: list[StoreError] = []
        exchange = data.exchange(warnings.append)
        data.add_user("Count.", exchange)
        async with Session(config) as session:
            async for event in exchange.follow(session.run("assistant", None, history=data.history())):
                if isinstance(event, MessageDelta) and event.text == "one ":
                    for path in data_dir.glob("salon.db*"):
                        path.unlink()  # the database goes away under the reply
            assert len(warnings) == 1 and "deleted" in str(warnings[0]) and not data.saved
            # The same conversation, now in memory: the prompt and the whole reply, shown and sent again.
            assert [(m.role, m.text, m.status) for m in data.page(0, 10)] == [
                ("user", "Count.", "complete"), ("assistant", "one two three four", "complete")]
            assert data.history() == [ChatMessage("user", "Count."), ChatMessage("assistant", "one two three four")]
            again = data.exchange(warnings.append)
            data.add_user("And then?", again)
            events = [e async for e in again.follow(session.run("assistant", None, history=data.history()))]
    assert isinstance(events[-1], RunCompleted) and len(warnings) == 1
    assert [m.text for m in data.page(0, 10)] == ["Count.", "one two three four", "And then?", "Five."]
    assert ollama_server.state.requests[-1]["messages"][-2] == {"role": "assistant", "content": "one two three four"}

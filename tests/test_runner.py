"""The runner: one completion per step, turned into events; cancellation and failure keep the partial text."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from salon.api import Session
from salon.events import (
    MessageCompleted,
    MessageCreated,
    MessageDelta,
    RunCompleted,
    RunCreated,
    RunFailed,
)
from salon.providers import ChatMessage
from salon.runner.run import Run
from salon.serve.payloads import to_openai
from tests.servers.ollama import Scripted


@pytest.fixture
async def session(config):
    async with Session(config) as session:
        yield session


async def events_of(run):
    return [event async for event in run]


def kinds(events):
    return [type(e).__name__ for e in events]


async def test_one_step_run_emits_created_deltas_completed(session, ollama_server):
    ollama_server.script(Scripted(text="Is virtue teachable?"))
    events = await events_of(session.run("socrates", "What is virtue?"))
    assert kinds(events) == ["RunCreated", "MessageCreated", "MessageDelta", "MessageDelta", "MessageDelta",
                             "MessageCompleted", "RunCompleted"]
    created, completed = events[1], events[-2]
    assert (created.agent_name, created.model, created.show_streaming_message) == (
        "Socrates", "ollama/llama3.2", True)
    assert "".join(e.text for e in events if isinstance(e, MessageDelta)) == "Is virtue teachable?"
    assert completed.status == "complete" and completed.reply.text == "Is virtue teachable?"
    assert completed.message_id == created.message_id
    assert completed.reply.usage.output_tokens == 3
    sent = ollama_server.requests[0]
    assert sent["messages"][0]["content"].startswith("Respond as though you were Socrates")
    assert sent["messages"][-1] == {"role": "user", "content": "What is virtue?"}


async def test_two_step_agent_produces_two_messages_in_order(session, ollama_server):
    ollama_server.script(Scripted(text="What do you mean by virtue?"), Scripted(text="Consider the cave."))
    events = await events_of(session.run("socrates-then-plato", "What is virtue?"))
    completed = [e for e in events if isinstance(e, MessageCompleted)]
    assert [(c.agent_name, c.step, c.reply.text) for c in completed] == [
        ("Socrates", 0, "What do you mean by virtue?"), ("Plato", 1, "Consider the cave.")]
    assert len({c.message_id for c in completed}) == 2
    assert kinds(events)[0] == "RunCreated" and kinds(events)[-1] == "RunCompleted"
    assert events[0].steps == 2
    first, second = ollama_server.requests
    assert second["messages"][0]["content"].startswith("Respond as though you were Plato")
    # Plato does not see previous steps: both philosophers answer the same history.
    assert second["messages"][1:] == first["messages"][1:]


async def test_a_step_that_sees_previous_steps_is_told_who_said_what(session, ollama_server, tmp_path):
    dialogue = session.catalog.get("socrates-then-plato")
    sees = replace(dialogue, steps=(dialogue.steps[0], replace(dialogue.steps[1], sees_previous_steps=True)))
    ollama_server.script(Scripted(text="What is justice?"), Scripted(text="Justice is harmony."))
    await events_of(session.run(sees, "Define justice."))
    last = ollama_server.requests[1]["messages"][-1]
    assert last == {"role": "user", "content": "Socrates replied:\n\nWhat is justice?"}


async def test_history_is_sent_before_the_prompt(session, ollama_server):
    history = [ChatMessage("user", "Hello"), ChatMessage("assistant", "Hi.")]
    await events_of(session.run("assistant", "And now?", history=history))
    messages = ollama_server.requests[0]["messages"]
    assert [m["content"] for m in messages[1:]] == ["Hello", "Hi.", "And now?"]


async def test_cancel_mid_stream_keeps_the_partial_text_as_interrupted(session, ollama_server):
    ollama_server.script(Scripted(text=" ".join(f"w{i}" for i in range(200)), rate=50))
    run = session.run("socrates", "Talk slowly.")
    events = []
    async for event in run:
        events.append(event)
        if sum(isinstance(e, MessageDelta) for e in events) == 3:
            run.cancel()
    assert kinds(events)[-2:] == ["MessageCompleted", "RunCancelled"]
    completed = events[-2]
    assert completed.status == "interrupted"
    assert completed.reply.text == "w0 w1 w2"
    assert completed.name == "thread.message.incomplete"


async def test_cancel_while_waiting_for_the_first_token(session, ollama_server):
    ollama_server.script(Scripted(text="late", first_token_delay=5))
    run = session.run("socrates", "Hello?")
    loop = asyncio.get_running_loop()
    started = loop.time()
    events = []
    async for event in run:
        events.append(event)
        if isinstance(event, MessageCreated):
            loop.call_later(0.2, run.cancel)
    assert loop.time() - started < 2
    assert kinds(events) == ["RunCreated", "MessageCreated", "MessageCompleted", "RunCancelled"]
    assert events[2].status == "interrupted" and events[2].reply.text == ""


async def test_cancel_between_steps_stops_before_the_next_persona(session, ollama_server):
    run = session.run("socrates-then-plato", "Why?")
    events = []
    async for event in run:
        events.append(event)
        if isinstance(event, MessageCompleted):
            run.cancel()
    assert kinds(events)[-1] == "RunCancelled"
    assert len(ollama_server.requests) == 1


async def test_a_failure_keeps_the_partial_text_and_fails_the_run(session, ollama_server):
    ollama_server.script(Scripted(text="one two three four five", error_after=3, error="model crashed"))
    events = await events_of(session.run("socrates-then-plato", "Go."))
    assert kinds(events)[-2:] == ["MessageCompleted", "RunFailed"]
    completed, failed = events[-2], events[-1]
    assert (completed.status, completed.reply.text) == ("failed", "one two three")
    assert "model crashed" in completed.error
    assert "model crashed" in failed.error and failed.error_type == "StreamInterrupted"
    assert len(ollama_server.requests) == 1, "the second persona never ran"


async def test_server_down_fails_the_run_with_the_host_named(ollama_server):
    from salon.config.read import Config

    async with Session(Config(ollama_host="127.0.0.1:9")) as session:
        events = await events_of(session.run("assistant", "hi"))
    assert isinstance(events[-1], RunFailed)
    assert "127.0.0.1:9" in events[-1].error and events[-1].retryable


async def test_busy_server_is_retried_without_doubling_the_reply(session, ollama_server):
    ollama_server.script(Scripted(status=503, error="server busy"), Scripted(text="Finally."))
    agent = session.agent("assistant")
    run = Run(agent, [ChatMessage("user", "hi")], session.providers, retry_delays=(0.01,))
    events = await events_of(run)
    completed = [e for e in events if isinstance(e, MessageCompleted)]
    assert [(c.status, c.reply.text) for c in completed] == [("complete", "Finally.")]
    assert len(ollama_server.requests) == 2


async def test_busy_server_gives_up_after_the_retries(session, ollama_server):
    ollama_server.script(*[Scripted(status=503, error="server busy")] * 3)
    run = Run(session.agent("assistant"), [ChatMessage("user", "hi")], session.providers, retry_delays=(0.01, 0.01))
    events = await events_of(run)
    assert isinstance(events[-1], RunFailed) and "busy" in events[-1].error
    assert len(ollama_server.requests) == 3


@pytest.mark.parametrize(("agent_stream", "call_stream", "sent"), [
    (True, None, True), (False, None, False), (False, True, True), (True, False, False)])
async def test_call_level_stream_beats_the_agents(session, ollama_server, agent_stream, call_stream, sent):
    agent = session.agent("assistant")
    agent = replace(agent, steps=tuple(replace(s, stream=agent_stream) for s in agent.steps))
    ollama_server.script(Scripted(text="one two three"))
    events = await events_of(session.run(agent, "hi", stream=call_stream))
    assert ollama_server.requests[0]["stream"] is sent
    deltas = [e for e in events if isinstance(e, MessageDelta)]
    assert len(deltas) == (3 if sent else 1)
    assert isinstance(events[-1], RunCompleted) and events[-2].reply.text == "one two three"


async def test_model_override_applies_to_every_step(session, ollama_server):
    await events_of(session.run("socrates-then-plato", "hi", model="ollama/qwen3"))
    assert [r["model"] for r in ollama_server.requests] == ["qwen3", "qwen3"]


async def test_cancelling_the_consumer_from_outside_propagates(session, ollama_server):
    ollama_server.script(Scripted(text="x " * 100, rate=20))

    async def consume():
        async for _ in session.run("assistant", "hi"):
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_events_map_onto_openai_assistants_stream_names(session, ollama_server):
    ollama_server.script(Scripted(text="Hi."))
    events = await events_of(session.run("assistant", "hi"))
    assert [e.name for e in events] == ["thread.run.created", "thread.message.created", "thread.message.delta",
                                         "thread.message.completed", "thread.run.completed"]
    delta = to_openai(events[2])
    assert delta["delta"]["content"][0]["text"]["value"] == "Hi."
    completed = to_openai(events[3])
    assert completed["content"][0]["text"]["value"] == "Hi." and completed["status"] == "completed"
    assert isinstance(events[0], RunCreated)

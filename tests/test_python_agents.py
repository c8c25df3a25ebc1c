"""Python agents (issue 18): an agent.py written for the agent hub's environment, run by Salon's runner against the
Ollama test server; each streamed completion one message, cancellation and failures keeping what streamed."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from salon.agents.definition import default_directories, load_agents
from salon.api import Session
from salon.errors import ProviderError, RunError, ServerBusy
from salon.events import (
    MessageCompleted,
    MessageCreated,
    MessageDelta,
    RunCancelled,
    RunCompleted,
    RunCreated,
    RunFailed,
)
from salon.providers import ChatMessage
from salon.runner.python_agent import AgentCodeError, PythonRun
from tests.agent_folders import SOCRATES_THEN_PLATO, local_metadata, write_folder
from tests.servers.ollama import OllamaServer, Scripted

SOCRATES = "Tell me, friend, what do you mean by virtue?"
PLATO = "Virtue is the harmony of the soul's three parts."


def user_folder(config_dir: Path, name: str = "streaming-example", program: str = SOCRATES_THEN_PLATO,
                **metadata: object) -> Path:
    return write_folder(config_dir / "agents", name, local_metadata(**metadata), program)  # type: ignore[arg-type]


async def events_of(session: Session, agent: str, prompt: str = "What is virtue?", **options: object) -> list:
    return [event async for event in session.run(agent, prompt, **options)]  # type: ignore[arg-type]


def kinds(events: list) -> list[str]:
    # Deltas collapsed: how many depends on the tokenizer, their order does not.
    out: list[str] = []
    for event in events:
        name = type(event).__name__
        if not (name == "MessageDelta" and out and out[-1] == name):
            out.append(name)
    return out


def message_text(events: list, message_id: str) -> str:
    return "".join(e.text for e in events if isinstance(e, MessageDelta) and e.message_id == message_id)


@pytest.fixture
async def session(config, config_dir):
    user_folder(config_dir)
    async with Session(config, load_agents(default_directories())) as session:
        yield session


async def test_the_documents_socrates_then_plato_agent_streams_two_messages_in_order(session, ollama_server):
    ollama_server.script(Scripted(text=SOCRATES), Scripted(text=PLATO))
    run = session.run("streaming-example", "What is virtue?")
    assert isinstance(run, PythonRun)
    events = [event async for event in run]
    assert kinds(events) == ["RunCreated", "MessageCreated", "MessageDelta", "MessageCompleted",
                             "MessageCreated", "MessageDelta", "MessageCompleted", "RunCompleted"]
    created = [e for e in events if isinstance(e, MessageCreated)]
    completed = [e for e in events if isinstance(e, MessageCompleted)]
    # Each message labelled with the agent that wrote it, in order, its deltas its own text.
    assert [(c.agent_name, c.step, c.model, c.show_streaming_message) for c in created] == [
        ("Streaming Example", 0, "ollama/llama3.2", True), ("Streaming Example", 1, "ollama/llama3.2", True)]
    assert [(c.message_id, c.status, c.reply.text) for c in completed] == [
        (created[0].message_id, "complete", SOCRATES), (created[1].message_id, "complete", PLATO)]
    assert [message_text(events, c.message_id) for c in created] == [SOCRATES, PLATO]
    assert completed[0].reply.usage.output_tokens == 9
    assert run.completed == completed
    # The documents' agent sends each persona the same conversation (Plato does not see Socrates).
    first, second = ollama_server.requests
    assert first["messages"] == [{"role": "system", "content": "respond as though you were Socrates"},
                                 {"role": "user", "content": "What is virtue?"}]
    assert second["messages"] == [{"role": "system", "content": "Now, respond as though you were Plato"},
                                  {"role": "user", "content": "What is virtue?"}]
    # model_max_tokens from metadata.json reaches the provider as Ollama's own option.
    assert first["options"]["num_predict"] == 4000


async def test_a_python_agent_sees_the_history_and_the_replies_it_added(session, ollama_server, config_dir):
    user_folder(config_dir, "echo", program=(
        "first = env.completion(env.list_messages(), stream=True)\n"
        "env.add_reply(first)\n"
        "seen = env.list_messages()\n"
        "env.add_reply(env.completion([{'role': 'system', 'content': 'count'}] + seen, temperature=0.1,\n"
        "                             model='llama-v3p1-70b-instruct'))\n"))
    catalog = load_agents(default_directories())
    ollama_server.script(Scripted(text="Hello."), Scripted(text="Two."))
    async with Session(session.config, catalog) as fresh:
        from salon.providers import ChatMessage

        events = [e async for e in fresh.run("echo", "again", history=[ChatMessage("user", "hi"),
                                                                      ChatMessage("assistant", "hey")])]
    assert [c.reply.text for c in events if isinstance(c, MessageCompleted)] == ["Hello.", "Two."]
    second = ollama_server.requests[1]
    assert [m["content"] for m in second["messages"]] == ["count", "hi", "hey", "again", "Hello."]
    assert second["stream"] is False and second["options"]["temperature"] == 0.1
    assert second["model"] == "llama3.2", "the agent's model answers, not the one its code names"
    # The whole text given to add_reply is still one message: created, its text, completed.
    assert kinds(events)[-4:] == ["MessageCreated", "MessageDelta", "MessageCompleted", "RunCompleted"]


async def test_the_call_level_model_replaces_the_metadata_default(session, ollama_server):
    ollama_server.script(Scripted(text="Q."), Scripted(text="A."))
    events = await events_of(session, "streaming-example", model="ollama/qwen3")
    assert {e.model for e in events if isinstance(e, MessageCreated)} == {"ollama/qwen3"}
    assert [r["model"] for r in ollama_server.requests] == ["qwen3", "qwen3"]


async def test_show_streaming_message_from_metadata_reaches_every_message(config, config_dir, ollama_server):
    user_folder(config_dir, show_streaming_message=False)
    ollama_server.script(Scripted(text=SOCRATES), Scripted(text=PLATO))
    async with Session(config, load_agents(default_directories())) as session:
        events = await events_of(session, "streaming-example")
    assert [e.show_streaming_message for e in events if isinstance(e, MessageCreated)] == [False, False]


async def test_cancel_mid_way_stops_the_agent_and_keeps_the_partial_text(session, ollama_server):
    held = threading.Event()
    ollama_server.script(Scripted(text=SOCRATES), Scripted(text=PLATO, hold_final=held))
    run = session.run("streaming-example", "What is virtue?")
    events = []
    try:
        async for event in run:
            events.append(event)
            # Plato's whole text has arrived and his reply is held open: the user presses Esc.
            if isinstance(event, MessageDelta) and message_text(events, event.message_id) == PLATO:
                run.cancel()
    finally:
        held.set()
    assert kinds(events) == ["RunCreated", "MessageCreated", "MessageDelta", "MessageCompleted",
                             "MessageCreated", "MessageDelta", "MessageCompleted", "RunCancelled"]
    socrates, plato = (e for e in events if isinstance(e, MessageCompleted))
    assert (socrates.status, socrates.reply.text) == ("complete", SOCRATES)
    assert (plato.status, plato.reply.text) == ("interrupted", PLATO)
    assert run.cancelled and run.completed == [socrates, plato]


async def test_the_agent_thread_is_told_to_stop_at_its_next_chunk(config, config_dir, ollama_server, tmp_path):
    marker = tmp_path / "stopped"
    user_folder(config_dir, "reader", program=(
        "import os\n"
        "from salon.agent_env import RunStopped\n"
        "stream = env.completion(env.list_messages(), stream=True)\n"
        "try:\n"
        "    for chunk in stream:\n"
        "        pass\n"
        "except RunStopped:\n"
        f"    with open({str(marker)!r} + '.tmp', 'w') as out:\n"
        "        out.write(stream.text)\n"
        f"    os.replace({str(marker)!r} + '.tmp', {str(marker)!r})\n"
        "    raise\n"))
    held = threading.Event()
    ollama_server.script(Scripted(text="one two three", hold_final=held))
    async with Session(config, load_agents(default_directories())) as session:
        run = session.run("reader", "go")
        events = []
        try:
            async for event in run:
                events.append(event)
                if isinstance(event, MessageDelta) and message_text(events, event.message_id) == "one two three":
                    run.cancel()
        finally:
            held.set()
    assert isinstance(events[-1], RunCancelled)
    for _ in range(500):  # the agent's thread reaches its handler after the run has ended
        if marker.exists():
            break
        await asyncio.sleep(0.01)
    assert marker.read_text() == "one two three"


async def test_an_agent_that_raises_fails_the_run_with_file_line_and_message(config, config_dir, ollama_server):
    folder = user_folder(config_dir, "faulty", program=(
        "stream = env.completion(env.list_messages(), stream=True)\n"
        "for number, chunk in enumerate(stream):\n"
        "    if number == 2:\n"
        "        raise ValueError('the agent gave up')\n"))
    ollama_server.script(Scripted(text="one two three four five"))
    async with Session(config, load_agents(default_directories())) as session:
        events = await events_of(session, "faulty")
    assert kinds(events) == ["RunCreated", "MessageCreated", "MessageDelta", "MessageCompleted", "RunFailed"]
    completed, failed = events[-2], events[-1]
    assert (completed.status, completed.reply.text) == ("failed", "one two three")
    assert isinstance(failed.exception, AgentCodeError) and isinstance(failed.exception, RunError)
    assert not isinstance(failed.exception, ProviderError)  # the agent's own code, not the model server
    assert failed.error == f"{folder / 'agent.py'}:4: ValueError: the agent gave up"
    assert failed.exception.partial == "one two three"


async def test_a_failed_completion_the_agent_lets_through_fails_the_run_with_the_providers_error(
        config, config_dir, ollama_server):
    user_folder(config_dir, "unlucky", program="env.add_reply(env.completion(env.list_messages(), stream=True))\n")
    ollama_server.script(Scripted(text="one two three", error_after=2, error="model crashed"))
    async with Session(config, load_agents(default_directories())) as session:
        events = await events_of(session, "unlucky")
    completed, failed = events[-2], events[-1]
    assert (completed.status, completed.reply.text) == ("failed", "one two")
    assert isinstance(failed, RunFailed) and "model crashed" in failed.error
    assert not isinstance(failed.exception, AgentCodeError) and failed.exception.partial == "one two"


@pytest.mark.parametrize("stream", [True, False])
async def test_a_busy_server_is_retried_for_a_python_agent_as_for_any_run(config, config_dir, ollama_server, stream):
    user_folder(config_dir, "patient", program=(
        f"env.add_reply(env.completion(env.list_messages(), stream={stream}))\n"))
    ollama_server.script(Scripted(status=503, error="server busy"), Scripted(text="Finally."))
    async with Session(config, load_agents(default_directories())) as session:
        agent = session.agent("patient")
        run = PythonRun(agent, [ChatMessage("user", "hi")], session.providers, retry_delays=(0.01,))
        events = [event async for event in run]
    completed = [e for e in events if isinstance(e, MessageCompleted)]
    assert [(c.status, c.reply.text) for c in completed] == [("complete", "Finally.")]
    assert isinstance(events[-1], RunCompleted)
    assert len(ollama_server.requests) == 2


async def test_a_busy_server_that_stays_busy_fails_a_python_agents_run_with_the_servers_error(
        config, config_dir, ollama_server):
    user_folder(config_dir, "patient", program="env.add_reply(env.completion(env.list_messages(), stream=True))\n")
    ollama_server.script(*[Scripted(status=503, error="server busy")] * 2)
    async with Session(config, load_agents(default_directories())) as session:
        agent = session.agent("patient")
        run = PythonRun(agent, [ChatMessage("user", "hi")], session.providers, retry_delays=(0.01,))
        events = [event async for event in run]
    failed = events[-1]
    assert isinstance(failed, RunFailed) and isinstance(failed.exception, ServerBusy)
    assert [e.status for e in events if isinstance(e, MessageCompleted)] == ["failed"]
    assert len(ollama_server.requests) == 2


async def test_the_documents_own_import_line_is_answered_with_the_one_to_write(config, config_dir, ollama_server):
    original = SOCRATES_THEN_PLATO.replace("from salon.agent_env import",
                                           "from nearai.agents.environment import")
    user_folder(config_dir, "hub-import", program=original)
    async with Session(config, load_agents(default_directories())) as session:
        events = await events_of(session, "hub-import")
    assert isinstance(events[-1], RunFailed)
    assert ":1: ModuleNotFoundError: No module named 'nearai'" in events[-1].error
    assert "from salon.agent_env import Environment" in events[-1].error
    assert ollama_server.requests == []


async def test_a_python_agent_outside_the_users_folder_is_refused(config, config_dir, tmp_path, ollama_server):
    elsewhere = tmp_path / "downloads"
    write_folder(elsewhere, "stranger", local_metadata(), SOCRATES_THEN_PLATO)
    catalog = load_agents([*default_directories(), elsewhere])
    assert "stranger" not in catalog.agents
    (error,) = catalog.errors
    assert str(error).startswith(f"{elsewhere / 'stranger' / 'agent.py'}: a Python agent runs only from your own "
                                 f"agents folder ({config_dir / 'agents'})")
    assert "salon agents import" in str(error)
    # Even an Agent built by hand around that file is not run.
    from dataclasses import replace

    user_folder(config_dir)
    mine = load_agents(default_directories()).get("streaming-example")
    smuggled = replace(mine, program=elsewhere / "stranger" / "agent.py")
    async with Session(config) as session:
        events = [e async for e in session.run(smuggled, "hi")]
    assert kinds(events) == ["RunCreated", "RunFailed"]
    assert ollama_server.requests == []


def test_python_agents_never_load_from_the_bundled_agents(tmp_path, monkeypatch):
    bundled = tmp_path / "bundled"
    write_folder(bundled, "shipped", local_metadata(), SOCRATES_THEN_PLATO)
    catalog = load_agents([bundled])
    assert "shipped" not in catalog.agents
    assert "runs only from your own agents folder" in str(catalog.errors[0])


async def test_an_agent_that_says_nothing_fails_the_run_saying_so(config, config_dir, ollama_server):
    user_folder(config_dir, "silent", program="env.request_user_input()\n")
    async with Session(config, load_agents(default_directories())) as session:
        events = await events_of(session, "silent")
    assert kinds(events) == ["RunCreated", "RunFailed"]
    assert "finished without writing a reply" in events[-1].error


async def test_run_created_says_the_number_of_messages_is_not_known(session, ollama_server):
    ollama_server.script(Scripted(text="a"), Scripted(text="b"))
    events = await events_of(session, "streaming-example")
    assert isinstance(events[0], RunCreated) and events[0].steps == 0
    assert isinstance(events[-1], RunCompleted)


async def test_two_runs_of_one_session_do_not_share_an_environment(session, ollama_server: OllamaServer):
    ollama_server.script(Scripted(text="a"), Scripted(text="b"), Scripted(text="c"), Scripted(text="d"))
    first = await events_of(session, "streaming-example")
    second = await events_of(session, "streaming-example", "Again?")
    assert [len([e for e in run if isinstance(e, MessageCompleted)]) for run in (first, second)] == [2, 2]
    assert ollama_server.requests[2]["messages"][-1] == {"role": "user", "content": "Again?"}


async def test_a_completion_option_that_is_not_a_generation_parameter_is_the_agents_error(
        config, config_dir, ollama_server):
    folder = user_folder(config_dir, "routed", program=(
        "env.add_reply(env.completion(env.list_messages(), api_base='http://elsewhere.example'))\n"))
    async with Session(config, load_agents(default_directories())) as session:
        events = await events_of(session, "routed")
    assert events[-1].error == (f"{folder / 'agent.py'}:1: TypeError: completion() got 'api_base', which is not "
                                "a generation parameter")
    assert ollama_server.requests == []


async def test_the_python_api_runs_a_python_agent(config, config_dir, ollama_server):
    from salon.api import ask, stream_text

    user_folder(config_dir)
    ollama_server.script(Scripted(text=SOCRATES), Scripted(text=PLATO))
    assert (await ask("streaming-example", "What is virtue?", config=config)).text == PLATO
    ollama_server.script(Scripted(text=SOCRATES), Scripted(text=PLATO))
    pieces = [piece async for piece in stream_text("streaming-example", "What is virtue?", config=config)]
    assert "".join(pieces) == SOCRATES + PLATO


async def test_a_hub_service_salon_lacks_is_named_with_what_it_provides(config, config_dir, ollama_server):
    folder = user_folder(config_dir, "tools", program="registry = env.get_tool_registry()\n")
    async with Session(config, load_agents(default_directories())) as session:
        events = await events_of(session, "tools")
    assert events[-1].error.startswith(f"{folder / 'agent.py'}:1: AttributeError: Salon's environment has no "
                                       "'get_tool_registry' (it provides list_messages, completion, add_reply")

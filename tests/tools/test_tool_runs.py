"""Agents that call MCP tools, end to end through the runner: real MCP servers over stdio, real model servers."""

from __future__ import annotations

import asyncio
import json

import pytest

from salon.config.read import load_config
from salon.events import (
    MessageCompleted,
    MessageCreated,
    MessageDelta,
    RequiresAction,
    RunCancelled,
    RunCompleted,
    RunCreated,
    RunFailed,
    StepCompleted,
    StepCreated,
    StepDelta,
    ToolsUnavailable,
)
from tests.servers.ollama import Scripted
from tests.tools.conftest import (
    calls_made,
    lab_server,
    open_session,
    time_server,
    write_agent,
    write_config,
)

TOKYO = {"timezone": "Asia/Tokyo"}


@pytest.fixture
def tools_model(ollama_server):
    ollama_server.add_model("qwen3", "completion", "tools")
    return "ollama/qwen3"


async def drive(run, decisions=("once",)):
    """Iterate the run as a face does, answering each RequiresAction with the next decision."""
    answers = iter(decisions)
    events = []
    async for event in run:
        events.append(event)
        if isinstance(event, RequiresAction):
            for call in event.calls:
                run.decide(call.id, next(answers))
    return events


def names(events):
    return [e.name for e in events]


async def test_what_time_is_it_in_tokyo_through_the_real_time_server(config_dir, agents_dir, ollama_server,
                                                                     tools_model):
    write_agent(agents_dir, "clock", tools_model, ["time.*"])
    session = open_session(write_config(config_dir, ollama_server.host, time_server()), agents_dir)
    ollama_server.script(
        Scripted(text="Let me check.", tool_calls=[{"name": "get_current_time", "arguments": TOKYO}]),
        Scripted(text="It is late evening in Tokyo."))
    async with session:
        run = session.run("clock", "What time is it in Tokyo?")
        events = await drive(run)
    # Before the call ran, the run asked, showing the tool, its server and its arguments.
    [asked] = [e for e in events if isinstance(e, RequiresAction)]
    [call] = asked.calls
    assert (call.server, call.tool, json.loads(call.arguments), call.status) == (
        "time", "get_current_time", TOKYO, "waiting")
    [done] = [e for e in events if isinstance(e, StepCompleted)]
    [result] = done.calls
    assert result.status == "completed"
    assert json.loads(result.output)["timezone"] == "Asia/Tokyo"
    # The tool's answer went back to the model as a tool message, and its next reply is the answer.
    first, second = ollama_server.requests
    assert [t["function"]["name"] for t in first["tools"]] == ["convert_time", "get_current_time"] or \
        sorted(t["function"]["name"] for t in first["tools"]) == ["convert_time", "get_current_time"]
    assistant, tool = second["messages"][-2:]
    assert assistant["tool_calls"][0]["function"] == {"name": "get_current_time", "arguments": TOKYO}
    assert tool["role"] == "tool" and tool["tool_name"] == "get_current_time"
    assert json.loads(tool["content"])["timezone"] == "Asia/Tokyo"
    texts = [e.reply.text for e in events if isinstance(e, MessageCompleted)]
    assert texts == ["Let me check.", "It is late evening in Tokyo."]
    assert isinstance(events[-1], RunCompleted)


async def test_event_order_follows_openais_documented_sequence(config_dir, agents_dir, ollama_server, tools_model,
                                                               lab_log):
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"])
    session = open_session(write_config(config_dir, ollama_server.host, lab_server(lab_log)), agents_dir)
    ollama_server.script(
        Scripted(text="Checking.", tool_calls=[{"name": "echo", "arguments": {"text": "one"}},
                                               {"name": "clock", "arguments": TOKYO}]),
        Scripted(text="Done."))
    async with session:
        events = await drive(session.run("labbie", "Go."), ("once", "once"))
    order = names(events)
    # OpenAI's Assistants order: the message before the calls completes, then the tool_calls step is created and
    # streams its deltas, the run requires action, then is in progress again once answered, the step completes
    # with outputs, the next message follows.
    expected_shape = ["thread.run.created", "thread.message.created", "thread.message.delta",
                      "thread.message.completed", "thread.run.step.created", "thread.run.step.delta",
                      "thread.run.requires_action", "thread.run.in_progress", "thread.run.step.completed",
                      "thread.message.created",
                      "thread.message.delta", "thread.message.completed", "thread.run.completed"]
    collapsed = [n for i, n in enumerate(order) if i == 0 or n != order[i - 1]]
    assert collapsed == expected_shape
    created = next(e for e in events if isinstance(e, StepCreated))
    first_message = next(e for e in events if isinstance(e, MessageCreated))
    assert created.message_id == first_message.message_id
    deltas = [e for e in events if isinstance(e, StepDelta)]
    assert [(d.index, d.server, d.tool) for d in deltas] == [(0, "lab", "echo"), (1, "lab", "clock")]
    assert calls_made(lab_log) == ["echo [('text', 'one')]", "clock [('timezone', 'Asia/Tokyo')]"]


async def test_a_denied_call_never_runs_and_the_model_is_told(config_dir, agents_dir, ollama_server, tools_model,
                                                               lab_log):
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"])
    session = open_session(write_config(config_dir, ollama_server.host, lab_server(lab_log)), agents_dir)
    ollama_server.script(Scripted(text="", tool_calls=[{"name": "echo", "arguments": {"text": "secret"}}]),
                         Scripted(text="Understood."))
    async with session:
        events = await drive(session.run("labbie", "Go."), ("deny",))
    [done] = [e for e in events if isinstance(e, StepCompleted)]
    assert [(c.status, c.output) for c in done.calls] == [("denied", None)]
    assert calls_made(lab_log) == []
    tool_message = ollama_server.requests[1]["messages"][-1]
    assert tool_message["role"] == "tool" and "denied" in tool_message["content"]
    assert isinstance(events[-1], RunCompleted)


async def test_always_is_remembered_in_the_users_config_and_not_asked_again(config_dir, agents_dir, ollama_server,
                                                                             tools_model, lab_log):
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"])
    path = write_config(config_dir, ollama_server.host, lab_server(lab_log))
    call = [{"name": "echo", "arguments": {"text": "hi"}}]
    ollama_server.script(Scripted(text="", tool_calls=call), Scripted(text="One."))
    async with open_session(path, agents_dir) as session:
        first = await drive(session.run("labbie", "Go."), ("always",))
    assert any(isinstance(e, RequiresAction) for e in first)
    assert load_config(path).approvals["labbie"] == {"lab.echo": "always"}
    assert path.stat().st_mode & 0o777 == 0o600
    # A new session (Salon started again) reads it back: the same tool runs for this agent without a question.
    ollama_server.script(Scripted(text="", tool_calls=call), Scripted(text="Two."))
    async with open_session(path, agents_dir) as session:
        second = await drive(session.run("labbie", "Again."), ())
    assert not any(isinstance(e, RequiresAction) for e in second)
    assert [c.status for e in second if isinstance(e, StepCompleted) for c in e.calls] == ["completed"]
    assert calls_made(lab_log) == ["echo [('text', 'hi')]"] * 2


async def test_auto_approval_comes_only_from_the_users_config(config_dir, agents_dir, ollama_server, tools_model,
                                                               lab_log):
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"])
    path = write_config(config_dir, ollama_server.host, lab_server(lab_log, approve="auto"))
    ollama_server.script(Scripted(text="", tool_calls=[{"name": "echo", "arguments": {"text": "a"}}]),
                         Scripted(text="Ran."))
    async with open_session(path, agents_dir) as session:
        events = await drive(session.run("labbie", "Go."), ())
    assert not any(isinstance(e, RequiresAction) for e in events)
    assert calls_made(lab_log) == ["echo [('text', 'a')]"]


async def test_cancel_while_waiting_for_approval_keeps_everything_so_far(config_dir, agents_dir, ollama_server,
                                                                         tools_model, lab_log):
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"])
    session = open_session(write_config(config_dir, ollama_server.host, lab_server(lab_log)), agents_dir)
    ollama_server.script(Scripted(text="Before.", tool_calls=[{"name": "echo", "arguments": {"text": "x"}}]))
    events = []
    async with session:
        run = session.run("labbie", "Go.")
        async for event in run:
            events.append(event)
            if isinstance(event, RequiresAction):
                run.cancel()
    assert [e.reply.text for e in events if isinstance(e, MessageCompleted)] == ["Before."]
    [done] = [e for e in events if isinstance(e, StepCompleted)]
    assert done.status == "cancelled" and [c.status for c in done.calls] == ["cancelled"]
    assert isinstance(events[-1], RunCancelled)
    assert calls_made(lab_log) == []


@pytest.mark.parametrize(("tool", "arguments", "says"), [
    ("fail", {"reason": "boom"}, "Error executing tool fail"),
    ("hang", {"seconds": 60}, "did not answer within 2 s"),
    ("die", {}, "MCP server 'lab' stopped during the call"),
    ("nosuch", {}, "the model asked for a tool it was not offered: 'nosuch'"),
])
async def test_a_tool_that_fails_is_a_clear_message_and_the_run_goes_on(
        config_dir, agents_dir, ollama_server, tools_model, lab_log, tool, arguments, says):
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"])
    session = open_session(write_config(config_dir, ollama_server.host, lab_server(lab_log, timeout=2)),
                           agents_dir)
    ollama_server.script(Scripted(text="", tool_calls=[{"name": tool, "arguments": arguments}]),
                         Scripted(text="Sorry, that did not work."))
    async with session:
        events = await drive(session.run("labbie", "Go."), ("once",) if tool != "nosuch" else ())
    [done] = [e for e in events if isinstance(e, StepCompleted)]
    [call] = done.calls
    assert call.status == "failed" and says in call.error
    told = ollama_server.requests[1]["messages"][-1]
    assert told["role"] == "tool" and says in told["content"]
    assert [e.reply.text for e in events if isinstance(e, MessageCompleted)][-1] == "Sorry, that did not work."
    assert isinstance(events[-1], RunCompleted)


async def test_a_tool_that_returns_megabytes_is_cut_and_says_so(config_dir, agents_dir, ollama_server,
                                                               tools_model, lab_log):
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"])
    session = open_session(write_config(config_dir, ollama_server.host, lab_server(lab_log)), agents_dir)
    ollama_server.script(Scripted(text="", tool_calls=[{"name": "flood", "arguments": {"megabytes": 5}}]),
                         Scripted(text="That was a lot."))
    async with session:
        events = await drive(session.run("labbie", "Go."))
    [call] = next(e for e in events if isinstance(e, StepCompleted)).calls
    assert call.status == "completed"
    assert len(call.output) < 21_000 and "Salon cut this tool's output: 5,242,880 characters" in call.output
    assert len(ollama_server.requests[1]["messages"][-1]["content"]) < 21_000


async def test_reading_a_huge_answer_costs_time_in_proportion_to_its_size(config_dir, agents_dir, ollama_server,
                                                                         tools_model, lab_log):
    # The SDK's stdio reader re-joins and re-splits all it has buffered for every chunk: 5 MB took seconds of
    # CPU, and 50 MB (a hundred times that) outlasts even this generous timeout. Read once, it takes seconds.
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"])
    session = open_session(write_config(config_dir, ollama_server.host, lab_server(lab_log, timeout=100)),
                           agents_dir)
    ollama_server.script(Scripted(text="", tool_calls=[{"name": "flood", "arguments": {"megabytes": 50}}]),
                         Scripted(text="That was a lot."))
    async with session:
        events = await drive(session.run("labbie", "Go."))
    [call] = next(e for e in events if isinstance(e, StepCompleted)).calls
    assert call.status == "completed", call.error
    assert "Salon cut this tool's output: 52,428,800 characters" in call.output
    assert isinstance(events[-1], RunCompleted)


async def test_a_server_that_does_not_start_is_named_and_the_reply_goes_on_without_it(
        config_dir, agents_dir, ollama_server, tools_model, lab_log):
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"], 'system = "You are a lab assistant."\n')
    session = open_session(write_config(config_dir, ollama_server.host, lab_server(lab_log, "--exit-at-start")),
                           agents_dir)
    ollama_server.script(Scripted(text="The lab tools are unavailable right now."))
    async with session:
        events = await drive(session.run("labbie", "Go."), ())
    assert isinstance(events[-1], RunCompleted)
    [notice] = [e for e in events if isinstance(e, ToolsUnavailable)]
    assert [server for server, _ in notice.servers] == ["lab"]
    assert "MCP server 'lab'" in notice.notice and "cannot open its database" in notice.notice
    [request] = ollama_server.requests
    assert "tools" not in request or not request["tools"]
    system = request["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("You are a lab assistant.\n\n")
    assert "'lab' could not be started" in system["content"]


async def test_of_two_servers_one_broken_the_model_gets_the_others_tools_and_is_told(
        config_dir, agents_dir, ollama_server, tools_model, lab_log, tmp_path):
    # The case: two servers, one will not start; before, the model was never asked.
    write_agent(agents_dir, "both", tools_model, ["time.*", "broken.*"])
    broken = lab_server(tmp_path / "broken.log", "--exit-at-start", name="broken")
    session = open_session(write_config(config_dir, ollama_server.host, time_server(), broken), agents_dir)
    ollama_server.script(Scripted(text="Let me check.", tool_calls=[{"name": "get_current_time",
                                                                      "arguments": TOKYO}]),
                         Scripted(text="It is evening in Tokyo."))
    async with session:
        events = await drive(session.run("both", "What time is it in Tokyo?"))
    assert isinstance(events[-1], RunCompleted)
    [notice] = [e for e in events if isinstance(e, ToolsUnavailable)]
    assert [server for server, _ in notice.servers] == ["broken"]
    assert "cannot open its database" in notice.notice
    first = ollama_server.requests[0]
    assert sorted(t["function"]["name"] for t in first["tools"]) == ["convert_time", "get_current_time"]
    assert first["messages"][0]["role"] == "system" and "'broken'" in first["messages"][0]["content"]
    [call] = next(e for e in events if isinstance(e, StepCompleted)).calls
    assert call.status == "completed" and json.loads(call.output)["timezone"] == "Asia/Tokyo"
    # Told once per reply: the model's second request carries the same note, not a second event.
    assert "'broken'" in ollama_server.requests[1]["messages"][0]["content"]


async def test_a_server_not_in_the_config_is_named_with_the_fix(config_dir, agents_dir, ollama_server,
                                                                tools_model):
    write_agent(agents_dir, "clock", tools_model, ["time.*"])
    session = open_session(write_config(config_dir, ollama_server.host), agents_dir)
    async with session:
        events = await drive(session.run("clock", "Go."), ())
    assert isinstance(events[-1], RunFailed)
    assert "[mcp_servers.time]" in events[-1].error


async def test_a_model_that_loops_stops_at_max_iterations(config_dir, agents_dir, ollama_server, tools_model,
                                                          lab_log):
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"], "max_iterations = 2\n")
    session = open_session(write_config(config_dir, ollama_server.host, lab_server(lab_log, approve="auto")),
                           agents_dir)
    loop = Scripted(text="", tool_calls=[{"name": "echo", "arguments": {"text": "again"}}])
    ollama_server.script(loop, loop, loop, loop)
    async with session:
        events = await drive(session.run("labbie", "Go."), ())
    assert len(calls_made(lab_log)) == 2
    assert isinstance(events[-1], RunFailed)
    assert "max_iterations = 2" in events[-1].error
    assert len(ollama_server.requests) == 3


async def test_a_model_without_tools_gets_a_clear_message(config_dir, agents_dir, ollama_server, lab_log):
    write_agent(agents_dir, "labbie", "ollama/llama3.2", ["lab.*"])
    session = open_session(write_config(config_dir, ollama_server.host, lab_server(lab_log)), agents_dir)
    async with session:
        events = await drive(session.run("labbie", "Go."), ())
    assert isinstance(events[-1], RunFailed)
    assert "does not support tools" in events[-1].error
    assert kinds_of(events)[:2] == [RunCreated, MessageCreated]


def kinds_of(events):
    return [type(e) for e in events]


async def test_text_deltas_and_tool_deltas_stay_apart(config_dir, agents_dir, ollama_server, tools_model, lab_log):
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"])
    session = open_session(write_config(config_dir, ollama_server.host, lab_server(lab_log, approve="auto")),
                           agents_dir)
    ollama_server.script(Scripted(text="Let me look.", tool_calls=[{"name": "echo", "arguments": {"text": "z"}}]),
                         Scripted(text="Found it."))
    async with session:
        events = await drive(session.run("labbie", "Go."), ())
    text = "".join(e.text for e in events if isinstance(e, MessageDelta))
    assert text == "Let me look.Found it."
    args = "".join(e.arguments for e in events if isinstance(e, StepDelta))
    assert json.loads(args) == {"text": "z"}


# -- the same through litellm, against a server speaking OpenAI's API -------------------------------------------


def cloud_config(config_dir, openai_server, *tables):
    path = config_dir / "config.toml"
    path.write_text(f'[providers.local]\napi_base = "{openai_server.api_base}"\nread_timeout = 20\n\n'
                    + "\n".join(tables), encoding="utf-8")
    return path


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_through_litellm_tool_call_pieces_are_assembled_and_the_real_time_server_answers(
        config_dir, agents_dir, openai_server):
    from tests.servers.openai import Scripted as OpenAIScripted

    write_agent(agents_dir, "clock", "local/gpt-4o-mini", ["time.*"])
    session = open_session(cloud_config(config_dir, openai_server, time_server()), agents_dir)
    openai_server.script(
        OpenAIScripted(text="Checking.", tool_calls=[{"name": "get_current_time", "arguments": json.dumps(TOKYO)}],
                       argument_pieces=4),
        OpenAIScripted(text="Evening in Tokyo."))
    async with session:
        events = await drive(session.run("clock", "What time is it in Tokyo?"))
    deltas = [e for e in events if isinstance(e, StepDelta)]
    assert len(deltas) >= 4, "the arguments streamed in pieces"
    assert json.loads("".join(d.arguments for d in deltas)) == TOKYO
    [result] = next(e for e in events if isinstance(e, StepCompleted)).calls
    assert result.status == "completed" and json.loads(result.output)["timezone"] == "Asia/Tokyo"
    second = openai_server.chat_requests[1].body["messages"]
    assistant, tool = second[-2:]
    assert assistant["tool_calls"][0]["function"]["name"] == "get_current_time"
    assert tool == {"role": "tool", "tool_call_id": assistant["tool_calls"][0]["id"], "content": result.output,
                    "name": "get_current_time"}
    assert [e.reply.text for e in events if isinstance(e, MessageCompleted)] == ["Checking.", "Evening in Tokyo."]
    assert isinstance(events[-1], RunCompleted)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_through_litellm_arguments_that_are_not_json_are_a_clear_message(config_dir, agents_dir,
                                                                                openai_server, lab_log):
    from tests.servers.openai import Scripted as OpenAIScripted

    write_agent(agents_dir, "labbie", "local/gpt-4o-mini", ["lab.*"])
    session = open_session(cloud_config(config_dir, openai_server, lab_server(lab_log)), agents_dir)
    openai_server.script(OpenAIScripted(text="", tool_calls=[{"name": "echo", "arguments": '{"text": "unclosed'}]),
                         OpenAIScripted(text="Let me try again later."))
    async with session:
        events = await drive(session.run("labbie", "Go."), ())
    assert not any(isinstance(e, RequiresAction) for e in events), "a call that cannot run is not asked about"
    [call] = next(e for e in events if isinstance(e, StepCompleted)).calls
    assert call.status == "failed" and "not valid JSON" in call.error
    assert call.arguments == '{"text": "unclosed'
    assert calls_made(lab_log) == []
    # What the model sent goes back as valid JSON (servers refuse a history that is not), still readable.
    sent = openai_server.chat_requests[1].body["messages"][-2]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(sent) == {"_unparsed": '{"text": "unclosed'}
    assert isinstance(events[-1], RunCompleted)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_through_litellm_a_model_without_tools_says_so(config_dir, agents_dir, openai_server, lab_log):
    from tests.servers.openai import Scripted as OpenAIScripted

    write_agent(agents_dir, "labbie", "local/gpt-4o-mini", ["lab.*"])
    session = open_session(cloud_config(config_dir, openai_server, lab_server(lab_log)), agents_dir)
    openai_server.set_default(OpenAIScripted(unsupported_tools=True))
    async with session:
        events = await drive(session.run("labbie", "Go."), ())
    assert isinstance(events[-1], RunFailed)
    assert "does not support tools" in events[-1].error


async def test_cancel_while_a_tool_runs_keeps_everything_so_far(config_dir, agents_dir, ollama_server, tools_model,
                                                                lab_log):
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"])
    session = open_session(write_config(config_dir, ollama_server.host, lab_server(lab_log, approve="auto")),
                           agents_dir)
    ollama_server.script(Scripted(text="Working.", tool_calls=[{"name": "hang", "arguments": {"seconds": 60}}]))
    events = []
    async with session:
        run = session.run("labbie", "Go.")

        async def cancel_once_running():
            while not calls_made(lab_log):
                await asyncio.sleep(0.05)
            run.cancel()

        canceller = asyncio.create_task(cancel_once_running())
        async for event in run:
            events.append(event)
        await canceller
    [done] = [e for e in events if isinstance(e, StepCompleted)]
    assert done.status == "cancelled"
    [call] = done.calls
    assert call.status == "cancelled" and "cancelled while it ran" in call.error
    assert [e.reply.text for e in events if isinstance(e, MessageCompleted)] == ["Working."]
    assert isinstance(events[-1], RunCancelled)


async def test_a_server_that_died_is_started_again_for_the_next_call(config_dir, agents_dir, ollama_server,
                                                                     tools_model, lab_log):
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"])
    session = open_session(write_config(config_dir, ollama_server.host, lab_server(lab_log, approve="auto")),
                           agents_dir)
    ollama_server.script(Scripted(text="", tool_calls=[{"name": "die", "arguments": {}}]),
                         Scripted(text="", tool_calls=[{"name": "echo", "arguments": {"text": "back"}}]),
                         Scripted(text="Recovered."))
    async with session:
        events = await drive(session.run("labbie", "Go."), ())
    results = [c for e in events if isinstance(e, StepCompleted) for c in e.calls]
    assert [(c.tool, c.status) for c in results] == [("die", "failed"), ("echo", "completed")]
    assert results[1].output == "back"
    assert isinstance(events[-1], RunCompleted)


async def test_the_python_api_denies_unless_told_and_runs_what_decide_allows(config_dir, ollama_server,
                                                                              tools_model, lab_log):
    import salon
    from salon.config.read import load_config

    (config_dir / "agents").mkdir()
    write_agent(config_dir / "agents", "labbie", tools_model, ["lab.*"])
    path = write_config(config_dir, ollama_server.host, lab_server(lab_log))
    echo = Scripted(text="", tool_calls=[{"name": "echo", "arguments": {"text": "api"}}])
    ollama_server.script(echo, Scripted(text="Denied, fine."))
    reply = await salon.ask("labbie", "Go.", config=load_config(path))
    assert reply.text == "Denied, fine." and calls_made(lab_log) == []
    ollama_server.script(echo, Scripted(text="Ran it."))
    reply = await salon.ask("labbie", "Go.", config=load_config(path), decide=lambda call: "once")
    assert reply.text == "Ran it." and calls_made(lab_log) == ["echo [('text', 'api')]"]


async def test_the_guides_stream_denies_unless_told_and_runs_what_decide_allows(config_dir, ollama_server,
                                                                               tools_model, lab_log):
    import salon
    from salon.config.read import load_config

    (config_dir / "agents").mkdir()
    write_agent(config_dir / "agents", "labbie", tools_model, ["lab.*"])
    config = load_config(write_config(config_dir, ollama_server.host, lab_server(lab_log)))
    echo = Scripted(text="", tool_calls=[{"name": "echo", "arguments": {"text": "stream"}}])

    ollama_server.script(echo, Scripted(text="Denied, fine."))
    chunks = [chunk async for chunk in salon.agent("labbie", config=config).stream("Go.")]
    assert "".join(c.content for c in chunks) == "Denied, fine." and calls_made(lab_log) == []

    ollama_server.script(echo, Scripted(text="Ran it."))
    asked = []
    allowing = salon.agent("labbie", config=config, decide=lambda call: asked.append(call.tool) or "once")
    chunks = [chunk async for chunk in allowing.stream("Go.")]
    assert "".join(c.content for c in chunks) == "Ran it." and asked == ["echo"]
    assert calls_made(lab_log) == ["echo [('text', 'stream')]"]


async def test_a_streamable_http_server_named_by_url(config_dir, agents_dir, ollama_server, tools_model, lab_log,
                                                     closed_port):
    import socket
    import subprocess
    import sys

    from tests.tools.conftest import LAB

    port = closed_port.release()
    server = subprocess.Popen([sys.executable, str(LAB), "--log", str(lab_log), "--http", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            await asyncio.sleep(0.05)
        write_agent(agents_dir, "labbie", tools_model, ["lab.echo"])
        table = f'[mcp_servers.lab]\nurl = "http://127.0.0.1:{port}/mcp"\napprove = "auto"\n'
        session = open_session(write_config(config_dir, ollama_server.host, table), agents_dir)
        ollama_server.script(Scripted(text="", tool_calls=[{"name": "echo", "arguments": {"text": "over http"}}]),
                             Scripted(text="Done."))
        async with session:
            events = await drive(session.run("labbie", "Go."), ())
        [call] = next(e for e in events if isinstance(e, StepCompleted)).calls
        assert (call.status, call.output) == ("completed", "over http")
        # Only the tool the agent listed was offered.
        assert [t["function"]["name"] for t in ollama_server.requests[0]["tools"]] == ["echo"]
    finally:
        server.terminate()
        server.wait(timeout=30)


async def test_cancel_as_the_tool_step_ends_stops_without_another_message(config_dir, agents_dir, ollama_server,
                                                                          tools_model, lab_log):
    write_agent(agents_dir, "labbie", tools_model, ["lab.*"])
    session = open_session(write_config(config_dir, ollama_server.host, lab_server(lab_log, approve="auto")),
                           agents_dir)
    ollama_server.script(Scripted(text="Before.", tool_calls=[{"name": "echo", "arguments": {"text": "y"}}]),
                         Scripted(text="Never asked for."))
    events = []
    async with session:
        run = session.run("labbie", "Go.")
        async for event in run:
            events.append(event)
            if isinstance(event, StepCompleted):
                run.cancel()
    assert [type(e).__name__ for e in events[-2:]] == ["StepCompleted", "RunCancelled"]
    assert next(e for e in events if isinstance(e, StepCompleted)).calls[0].output == "y"
    assert len(ollama_server.requests) == 1

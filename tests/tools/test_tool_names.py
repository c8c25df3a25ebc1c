"""Function names the model is offered: two tools are never merged into one, and a conversation continued after a
restart tells the model the names the live run offered it."""

from __future__ import annotations

from pathlib import Path

from salon.api import Session
from salon.events import RunCompleted
from salon.store import Exchange, Store
from salon.tools.host import function_names
from tests.servers.ollama import Scripted
from tests.tools.conftest import calls_made, lab_server, open_session, write_agent, write_config


async def _turn(session: Session, store: Store, conversation_id: str | None, prompt: str) -> str:
    """One exchange as every face makes it: the prompt saved, then the run on the stored history."""
    exchange = Exchange(store, conversation_id, agent_id="twins")
    exchange.write_prompt(prompt)
    events = [e async for e in exchange.follow(session.run("twins", None, history=exchange.history()))]
    assert isinstance(events[-1], RunCompleted), events[-1]
    assert exchange.conversation_id is not None
    return exchange.conversation_id


async def test_a_conversation_continued_after_a_restart_names_the_tools_as_the_live_run_did(
        tmp_path: Path, config_dir: Path, agents_dir: Path, ollama_server) -> None:
    ollama_server.add_model("qwen3", "completion", "tools")
    lab_log, bench_log = tmp_path / "lab.log", tmp_path / "bench.log"
    # Two real MCP servers over stdio that both offer `echo`.
    config = write_config(config_dir, ollama_server.host, lab_server(lab_log, approve="auto"),
                          lab_server(bench_log, name="bench", approve="auto"))
    write_agent(agents_dir, "twins", "ollama/qwen3", ["lab.echo", "bench.echo"])
    ollama_server.script(
        Scripted(text="Both, then.", tool_calls=[{"name": "lab__echo", "arguments": {"text": "one"}},
                                                 {"name": "bench__echo", "arguments": {"text": "two"}}]),
        Scripted(text="Echoed twice."))
    data = tmp_path / "data"
    async with open_session(config, agents_dir) as session:
        with Store.open(data, secrets=()) as store:
            conversation = await _turn(session, store, None, "Echo in both places.")
    assert sorted(t["function"]["name"] for t in ollama_server.requests[0]["tools"]) == ["bench__echo", "lab__echo"]
    assert calls_made(lab_log) == ["echo [('text', 'one')]"] and calls_made(bench_log) == ["echo [('text', 'two')]"]
    live = ollama_server.requests[1]["messages"]
    assert [m["role"] for m in live] == ["user", "assistant", "tool", "tool"]

    # A restart: a new session, the same database file, the conversation continued.
    ollama_server.script(Scripted(text="Still twice."))
    async with open_session(config, agents_dir) as session:
        with Store.open(data, secrets=()) as store:
            await _turn(session, store, conversation, "And again?")
    continued = ollama_server.requests[2]["messages"]
    assert continued[:len(live)] == live
    assert [c["function"]["name"] for c in continued[1]["tool_calls"]] == ["lab__echo", "bench__echo"]
    assert [m["tool_name"] for m in continued[2:4]] == ["lab__echo", "bench__echo"]
    assert [m["role"] for m in continued[4:]] == ["assistant", "user"]


async def test_two_tools_whose_names_clean_up_alike_are_offered_apart_and_each_runs(
        tmp_path: Path, config_dir: Path, agents_dir: Path, ollama_server) -> None:
    ollama_server.add_model("qwen3", "completion", "tools")
    a_log, b_log = tmp_path / "a.log", tmp_path / "b.log"
    # `a` offers `x.y`, `b` offers `x_y`: a function name cannot hold the dot, so both would read `x_y`.
    config = write_config(config_dir, ollama_server.host,
                          lab_server(a_log, "--echo-as", "x.y", name="a", approve="auto"),
                          lab_server(b_log, "--echo-as", "x_y", name="b", approve="auto"))
    write_agent(agents_dir, "twins", "ollama/qwen3", ["a.x.y", "b.x_y"])
    ollama_server.script(
        Scripted(text="", tool_calls=[{"name": "a__x_y", "arguments": {"text": "first"}},
                                      {"name": "b__x_y", "arguments": {"text": "second"}}]),
        Scripted(text="Done."))
    async with open_session(config, agents_dir) as session:
        with Store.open(tmp_path / "data", secrets=()) as store:
            await _turn(session, store, None, "Use both.")
    assert sorted(t["function"]["name"] for t in ollama_server.requests[0]["tools"]) == ["a__x_y", "b__x_y"]
    assert calls_made(a_log) == ["x.y [('text', 'first')]"] and calls_made(b_log) == ["x_y [('text', 'second')]"]
    results = [m["content"] for m in ollama_server.requests[1]["messages"] if m["role"] == "tool"]
    assert results == ["x.y: first", "x_y: second"]


def test_function_names_are_unique_and_stable() -> None:
    assert function_names([("time", "now"), ("lab", "echo")]) == ["now", "echo"]
    assert function_names([("a", "x.y"), ("b", "x_y")]) == ["a__x_y", "b__x_y"]
    assert function_names([("a", "echo"), ("b", "echo"), ("c", "other")]) == ["a__echo", "b__echo", "other"]
    # Names cut to 64 characters that still meet are numbered, never merged.
    long = "t" * 80
    names = function_names([("s", long + "1"), ("s", long + "2")])
    assert len(set(names)) == 2 and all(len(n) <= 64 for n in names)
    assert function_names([("s", long + "1"), ("s", long + "2")]) == names

"""The one builder of what a model is sent: a live run's tool turns and the same conversation read back from the
store are the same turns, function names included."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from salon.agents.definition import Step
from salon.events import Event, StepCompleted, ToolCall
from salon.messages import ChatMessage, Message, ToolCallPart, ToolRequest, history, model_turns
from salon.providers.base import ToolSpec
from salon.reply import Chunk, ToolCallPiece
from salon.runner.completion import Completion
from salon.store import Exchange, Store
from salon.store.memory import memory_store
from salon.tools.host import OfferedTool, ToolSet

STEP = Step("twins", "Twins", "ollama/qwen3", tools=("lab.echo", "bench.echo"))
TOOLS = ToolSet({f"{server}__echo": OfferedTool(server, "echo", ToolSpec(f"{server}__echo", "", {}))
                 for server in ("lab", "bench")})


def _live_completion(exchange: Exchange) -> list[ChatMessage]:
    """One completion that calls ``echo`` on two servers sharing the name, run as the runner runs it, every event
    saved by ``exchange``; returns the turns the live run sends the model next."""
    completion = Completion("run_1", 0, STEP, None, [])
    events: list[Event] = [completion.open()]
    events += completion.feed(Chunk(text="Both, then."), TOOLS)
    events += completion.feed(Chunk(tool_calls=(ToolCallPiece(0, "call_a", "lab__echo", '{"text": "one"}'),
                                                ToolCallPiece(1, "call_b", "bench__echo", '{"text": "two"}'))),
                              TOOLS)
    for event in events:
        exchange.record(event)
    calls = completion.resolve(TOOLS)
    done = [replace(calls[0], status="completed", output="one"),
            replace(calls[1], status="failed", error="the server went away")]
    completion.calls_done = done
    assert completion.step_id is not None
    exchange.record(StepCompleted("run_1", completion.step_id, tuple(done)))
    exchange.finish()
    return completion.messages_for_model()


def test_a_live_runs_tool_turns_and_the_stored_conversations_are_the_same(tmp_path: Path) -> None:
    with Store.open(tmp_path, secrets=()) as store:
        exchange = Exchange(store, agent_id="twins")
        exchange.write_prompt("Echo in both places.")
        live = _live_completion(exchange)
        assert exchange.conversation_id is not None
        conversation_id = exchange.conversation_id
    # A restart: the same file, opened afresh.
    with Store.open(tmp_path, secrets=()) as store:
        continued = store.history(conversation_id)
    assert continued == [ChatMessage("user", "Echo in both places."), *live]
    assistant = live[0]
    assert assistant.tool_calls == (ToolRequest("call_a", "lab__echo", '{"text": "one"}'),
                                    ToolRequest("call_b", "bench__echo", '{"text": "two"}'))
    assert [(t.role, t.tool_name, t.tool_call_id, t.content) for t in live[1:]] == [
        ("tool", "lab__echo", "call_a", "one"), ("tool", "bench__echo", "call_b", "Error: the server went away")]


def test_an_in_memory_store_sends_the_same_turns_as_the_database() -> None:
    store = memory_store()
    exchange = Exchange(store, agent_id="twins")
    exchange.write_prompt("Echo in both places.")
    live = _live_completion(exchange)
    assert exchange.conversation_id is not None
    assert store.history(exchange.conversation_id) == [ChatMessage("user", "Echo in both places."), *live]
    assert not store.persistent


def test_a_call_kept_before_its_function_name_was_stored_goes_back_by_its_tool_name() -> None:
    old = ToolCallPart("call_1", "time", "get_current_time", "", "denied")
    [assistant, tool] = model_turns("assistant", "", [old])
    assert assistant.tool_calls == (ToolRequest("call_1", "get_current_time", "{}"),)
    assert (tool.tool_name, tool.content) == ("get_current_time", "The user denied this tool call; it was not run.")


def test_history_leaves_out_failed_and_streaming_replies_and_keeps_interrupted_ones() -> None:
    def said(role: str, text: str, status: str = "complete", calls: tuple[ToolCallPart, ...] = ()) -> Message:
        return Message("m", "c", role, text, status=status, tool_calls=calls)  # type: ignore[arg-type]

    call = ToolCallPart.of(ToolCall("call_1", 0, "lab", "echo", "{}", "completed", "hi", function="lab__echo"))
    sent = history([said("user", "a"), said("assistant", "", "failed"), said("assistant", "half", "streaming"),
                    said("assistant", "", calls=(call,)), said("assistant", "cut", "interrupted")])
    assert [(m.role, m.content) for m in sent] == [("user", "a"), ("assistant", ""), ("tool", "hi"),
                                                   ("assistant", "cut")]
    assert sent[1].tool_calls[0].name == "lab__echo"


def test_an_export_keeps_the_function_name_so_an_imported_conversation_sends_it_too() -> None:
    import io

    from salon.store.transcript import read_json, write_json

    store = memory_store()
    exchange = Exchange(store, agent_id="twins")
    exchange.write_prompt("Echo in both places.")
    live = _live_completion(exchange)
    assert exchange.conversation_id is not None
    out = io.StringIO()
    write_json(store, [store.conversation(exchange.conversation_id)], out)
    other = memory_store()
    imported, _ = other.import_conversations(read_json(out.getvalue()))
    assert other.history(imported[0])[1:] == live

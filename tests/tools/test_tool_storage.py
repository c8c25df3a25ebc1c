"""Tool calls kept as parts of the message: saved as the run goes, shown again, exported, sent back to the model."""

from __future__ import annotations

import json

from salon.store import Store
from tests.conftest import run_salon
from tests.servers.ollama import Scripted
from tests.tools.conftest import lab_server, time_server, write_agent

TOKYO = {"timezone": "Asia/Tokyo"}


def setup(config_dir, ollama_server, lab_log, approve="ask"):
    ollama_server.add_model("qwen3", "completion", "tools")
    (config_dir / "config.toml").write_text(time_server() + "\n" + lab_server(lab_log, approve=approve),
                                            encoding="utf-8")
    agents = config_dir / "agents"
    agents.mkdir()
    write_agent(agents, "clock", "ollama/qwen3", ["time.*"])
    write_agent(agents, "labbie", "ollama/qwen3", ["lab.*"])


def test_a_tool_call_is_stored_shown_exported_and_sent_back_next_turn(config_dir, data_dir, ollama_server,
                                                                      lab_log):
    setup(config_dir, ollama_server, lab_log)
    ollama_server.script(
        Scripted(text="Let me check.", tool_calls=[{"name": "get_current_time", "arguments": TOKYO}]),
        Scripted(text="It is evening in Tokyo."))
    done = run_salon("ask", "--agent", "clock", "--allow-tool", "time.*", "What time is it in Tokyo?", timeout=90)
    assert done.returncode == 0, done.stderr

    with Store.open(data_dir) as store:
        [conversation] = store.conversations()
        messages = store.messages(conversation.id)
    assert [m.role for m in messages] == ["user", "assistant", "assistant"]
    before, after = messages[1], messages[2]
    assert [p.type for p in before.parts] == ["text", "tool_call"]
    call = before.parts[1]
    assert (call.server, call.tool, json.loads(call.arguments), call.status) == (
        "time", "get_current_time", TOKYO, "completed")
    assert json.loads(call.output)["timezone"] == "Asia/Tokyo"
    assert after.text == "It is evening in Tokyo." and after.tool_calls == ()

    shown = run_salon("history", "show")
    assert shown.returncode == 0, shown.stderr
    assert "Let me check." in shown.stdout
    assert "**Tool call** `time.get_current_time` · completed" in shown.stdout
    assert '{"timezone": "Asia/Tokyo"}' in shown.stdout
    assert shown.stdout.index("Let me check.") < shown.stdout.index("Tool call") < shown.stdout.index(
        "It is evening in Tokyo.")

    exported = run_salon("history", "export", "--format", "json")
    [item] = json.loads(exported.stdout)["conversations"]
    [stored_call] = item["messages"][1]["tool_calls"]
    assert stored_call["tool"] == "get_current_time" and stored_call["status"] == "completed"

    # The next turn sends the model the call and its result again, in the wire's shape.
    ollama_server.script(Scripted(text="Still evening."))
    again = run_salon("ask", "--continue", "--allow-tool", "time.*", "And now?", timeout=90)
    assert again.returncode == 0, again.stderr
    sent = ollama_server.requests[-1]["messages"]
    roles = [m["role"] for m in sent]
    assert roles == ["user", "assistant", "tool", "assistant", "user"]
    assert sent[1]["content"] == "Let me check."
    assert sent[1]["tool_calls"][0]["function"] == {"name": "get_current_time", "arguments": TOKYO}
    assert sent[2]["tool_name"] == "get_current_time" and json.loads(sent[2]["content"])["timezone"] == \
        "Asia/Tokyo"


def test_an_export_with_tool_calls_imports_back_whole(config_dir, data_dir, ollama_server, lab_log, tmp_path):
    setup(config_dir, ollama_server, lab_log, approve="auto")
    ollama_server.script(Scripted(text="", tool_calls=[{"name": "echo", "arguments": {"text": "kept"}}]),
                         Scripted(text="Echoed."))
    assert run_salon("ask", "--agent", "labbie", "Echo it.", timeout=90).returncode == 0
    exported = tmp_path / "export.json"
    assert run_salon("history", "export", "--format", "json", "-o", str(exported)).returncode == 0
    other = tmp_path / "other-data"
    imported = run_salon("history", "import", str(exported), SALON_DATA_DIR=str(other))
    assert imported.returncode == 0, imported.stderr
    with Store.open(other) as store:
        [conversation] = store.conversations()
        [call] = store.messages(conversation.id)[1].tool_calls
    assert (call.name, call.output, call.status) == ("lab.echo", "kept", "completed")


def test_a_run_cancelled_at_the_question_keeps_its_calls_marked_cancelled(config_dir, data_dir, ollama_server,
                                                                         lab_log):
    setup(config_dir, ollama_server, lab_log)
    ollama_server.script(Scripted(text="Before.", tool_calls=[{"name": "echo", "arguments": {"text": "x"}}]))
    done = run_salon("ask", "--agent", "labbie", "Go.", timeout=90)  # a pipe: refused, the run stops
    assert done.returncode == 1
    with Store.open(data_dir) as store:
        [conversation] = store.conversations()
        [_, before] = store.messages(conversation.id)
    assert before.text == "Before."
    [call] = before.tool_calls
    assert (call.name, call.status) == ("lab.echo", "cancelled")

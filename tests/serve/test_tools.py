"""``salon serve`` with a tool-using agent: the run-step events as they are, and decisions submitted over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.hostile import CORPUS
from tests.serve.conftest import Served, new_thread, read_stream, start_run, wait_for_run
from tests.serve.test_api import refused
from tests.servers.ollama import OllamaServer, Scripted
from tests.tools.conftest import calls_made, lab_server, write_agent

ECHO = [{"name": "echo", "arguments": {"text": "from the web"}}]


@pytest.fixture
def tool_server(serve: Callable[..., Served], config_dir: Path, ollama_server: OllamaServer, lab_log: Path) -> Served:
    ollama_server.add_model("qwen3", "completion", "tools")
    (config_dir / "config.toml").write_text(lab_server(lab_log), encoding="utf-8")
    (config_dir / "agents").mkdir()
    write_agent(config_dir / "agents", "labbie", "ollama/qwen3", ["lab.*"])
    return serve()


@pytest.fixture
def lab_log(tmp_path: Path) -> Path:
    return tmp_path / "lab-calls.log"


def waiting_run(server: Served, ollama_server: OllamaServer) -> tuple[object, str, str, list[tuple[str, dict]]]:
    ollama_server.script(Scripted(text="Asking.", tool_calls=ECHO), Scripted(text="Echoed."))
    client = server.client()
    thread = new_thread(client, "Echo it.", agent="labbie")
    run = start_run(client, thread, agent="labbie")
    seen = read_stream(client, thread, run, framing="openai",
                       stop_after=lambda events: any(n == "thread.run.requires_action" for n, _ in events))
    return client, thread, run, seen


def test_a_tool_run_streams_step_events_and_waits_for_a_decision_posted_over_http(tool_server, ollama_server,
                                                                                  lab_log):
    client, thread, run, seen = waiting_run(tool_server, ollama_server)
    order = [n for n, _ in seen]
    assert order.index("thread.message.completed") < order.index("thread.run.step.created") < order.index(
        "thread.run.step.delta") < order.index("thread.run.requires_action")
    delta = next(d for n, d in seen if n == "thread.run.step.delta")
    [piece] = delta["delta"]["step_details"]["tool_calls"]
    assert piece["function"]["name"] == "lab.echo"
    action = next(d for n, d in seen if n == "thread.run.requires_action")
    assert action["status"] == "requires_action"
    [call] = action["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert json.loads(call["function"]["arguments"]) == {"text": "from the web"}
    assert calls_made(lab_log) == []

    answered = client.post(f"/v1/threads/{thread}/runs/{run}/decisions",
                           json={"decisions": [{"tool_call_id": call["id"], "decision": "once"}]})
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "in_progress"
    ended = wait_for_run(client, thread, run, "completed", "failed", "cancelled")
    assert ended["status"] == "completed"
    assert calls_made(lab_log) == ["echo [('text', 'from the web')]"]
    rest = read_stream(client, thread, run, framing="openai")
    done = next(d for n, d in rest if n == "thread.run.step.completed")
    assert done["step_details"]["tool_calls"][0]["function"]["output"] == "from the web"
    stored = client.get(f"/v1/threads/{thread}/messages", params={"order": "asc"}).json()["data"]
    assert stored[1]["metadata"]["tool_calls"][0]["output"] == "from the web"


def test_decisions_that_do_not_fit_are_refused_and_change_nothing(tool_server, ollama_server, lab_log):
    client, thread, run, seen = waiting_run(tool_server, ollama_server)
    url = f"/v1/threads/{thread}/runs/{run}/decisions"
    call_id = next(d for n, d in seen if n == "thread.run.requires_action")[
        "required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
    refused(client.post(url, json={}), 400, "'decisions'")
    refused(client.post(url, json={"decisions": [{"tool_call_id": call_id, "decision": "sure"}]}), 400)
    for name, hostile in CORPUS.items():
        message = refused(client.post(url, json={"decisions": [{"tool_call_id": hostile, "decision": "once"}]}),
                          409, "is not waiting for a decision")
        assert hostile in message or repr(hostile)[1:-1] in message, name
        refused(client.post(url, json={"decisions": [{"tool_call_id": call_id, "decision": hostile}]}), 400)
    # One good and one unknown id: neither is applied.
    refused(client.post(url, json={"decisions": [{"tool_call_id": call_id, "decision": "once"},
                                                 {"tool_call_id": "call_nope", "decision": "once"}]}), 409)
    assert client.get(f"/v1/threads/{thread}/runs/{run}").json()["status"] == "requires_action"
    assert calls_made(lab_log) == []
    refused(client.post(f"/v1/threads/{thread}/runs/run_nope/decisions",
                        json={"decisions": [{"tool_call_id": call_id, "decision": "deny"}]}), 404)
    assert client.post(url, json={"decisions": [{"tool_call_id": call_id, "decision": "deny"}]}).status_code == 200
    assert wait_for_run(client, thread, run, "completed", "failed", "cancelled")["status"] == "completed"
    assert calls_made(lab_log) == []
    refused(client.post(url, json={"decisions": [{"tool_call_id": call_id, "decision": "once"}]}), 409,
            "not waiting")


def test_off_loopback_decisions_need_the_token(serve, config_dir, ollama_server, lab_log):
    ollama_server.add_model("qwen3", "completion", "tools")
    (config_dir / "config.toml").write_text(lab_server(lab_log), encoding="utf-8")
    (config_dir / "agents").mkdir()
    write_agent(config_dir / "agents", "labbie", "ollama/qwen3", ["lab.*"])
    server = serve("--host", "0.0.0.0", lines=2)
    server.token = server.banner[0].rsplit(" ", 1)[1]
    _, thread, run, seen = waiting_run(server, ollama_server)
    call_id = next(d for n, d in seen if n == "thread.run.requires_action")[
        "required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
    anonymous = server.client()
    anonymous.headers.pop("Authorization", None)
    refused(anonymous.post(f"/v1/threads/{thread}/runs/{run}/decisions",
                           json={"decisions": [{"tool_call_id": call_id, "decision": "once"}]}), 401)
    assert calls_made(lab_log) == []


def test_a_server_that_will_not_start_is_an_event_and_the_run_goes_on(serve, config_dir, ollama_server, lab_log):
    ollama_server.add_model("qwen3", "completion", "tools")
    (config_dir / "config.toml").write_text(lab_server(lab_log, "--exit-at-start"), encoding="utf-8")
    (config_dir / "agents").mkdir()
    write_agent(config_dir / "agents", "labbie", "ollama/qwen3", ["lab.*"])
    ollama_server.script(Scripted(text="The lab is closed today."))
    client = serve().client()
    thread = new_thread(client, "Echo it.", agent="labbie")
    run = start_run(client, thread, agent="labbie")
    assert wait_for_run(client, thread, run, "completed", "failed", "cancelled")["status"] == "completed"
    seen = read_stream(client, thread, run, framing="openai")
    [notice] = [d for n, d in seen if n == "thread.run.tools_unavailable"]
    assert [s["name"] for s in notice["servers"]] == ["lab"]
    assert "cannot open its database" in notice["servers"][0]["error"]
    assert notice["notice"].startswith("the tools of MCP server 'lab' are not available for this reply")
    order = [n for n, _ in seen]
    assert order.index("thread.message.created") < order.index("thread.run.tools_unavailable") < order.index(
        "thread.message.completed")

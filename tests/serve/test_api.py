"""The API's answers through a real client against a real ``salon serve``: agents and threads, every refusal (4xx
with a message), and the token that a server bound off loopback requires."""

from __future__ import annotations

import stat
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from salon.serve.app import MAX_BODY
from tests.serve.conftest import Served, count_deltas, new_thread, read_stream, start_run
from tests.servers.ollama import OllamaServer, Scripted


def refused(response: httpx.Response, status: int, *words: str) -> str:
    """Assert a JSON refusal with ``status`` whose message contains ``words``; returns the message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]["message"]
    for word in words:
        assert word in message
    return message


def test_agents_are_listed_with_what_a_client_needs_to_show_them(client: httpx.Client) -> None:
    agents = {a["id"]: a for a in client.get("/v1/agents").json()["data"]}

    assert {"assistant", "socrates", "plato", "socrates-then-plato", "quiet-drafter"} <= set(agents)
    socrates = agents["socrates"]
    assert (socrates["name"], socrates["model"], socrates["show_streaming_message"]) == \
        ("Socrates", "ollama/llama3.2", True)
    assert socrates["welcome"]["title"] and socrates["description"]
    assert agents["quiet-drafter"]["show_streaming_message"] is False
    assert [s["name"] for s in agents["socrates-then-plato"]["steps"]] == ["Socrates", "Plato"]
    assert client.get("/v1/agents/plato").json()["name"] == "Plato"


def test_a_thread_is_created_given_messages_and_listed(client: httpx.Client) -> None:
    made = client.post("/v1/threads", json={"agent_id": "plato"})
    thread_id = made.json()["id"]
    added = client.post(f"/v1/threads/{thread_id}/messages",
                        json={"role": "user", "content": [{"type": "text", "text": "What is justice?"}]})

    assert made.status_code == 201 and made.json()["object"] == "thread"
    assert added.status_code == 201 and added.json()["content"][0]["text"]["value"] == "What is justice?"
    thread = client.get(f"/v1/threads/{thread_id}").json()
    assert (thread["title"], thread["agent_id"], thread["message_count"]) == ("What is justice?", "plato", 1)
    assert [t["id"] for t in client.get("/v1/threads").json()["data"]] == [thread_id]


def test_a_run_may_name_another_model(client: httpx.Client, ollama_server: OllamaServer) -> None:
    ollama_server.add_model("qwen3", "completion")
    ollama_server.script(Scripted(text="From qwen."))
    thread_id = new_thread(client, "Hello?")
    run_id = start_run(client, thread_id, "socrates", model="ollama/qwen3")

    events = read_stream(client, thread_id, run_id)

    assert events[-2][1]["metadata"]["model"] == "ollama/qwen3"
    assert events[0][1]["model"] == "ollama/qwen3"
    assert ollama_server.requests[-1]["model"].startswith("qwen3")


def test_bad_bodies_are_refused_with_a_message(client: httpx.Client) -> None:
    thread_id = client.post("/v1/threads", json={}).json()["id"]
    url = f"/v1/threads/{thread_id}/messages"
    json_type = {"Content-Type": "application/json"}

    refused(client.post(url, content=b'{"role": "user", "content": ', headers=json_type), 400, "not JSON", "line 1")
    refused(client.post(url, content=b"[1, 2]", headers=json_type), 400, "JSON object")
    refused(client.post(url, content=b"\xff\xfe", headers=json_type), 400, "not UTF-8")
    refused(client.post(url, content=b"", headers=json_type), 400, "empty")
    refused(client.post(url, content=b'{"content": "hi"}', headers={"Content-Type": "text/plain"}), 415,
            "application/json")
    refused(client.post(url, json={"role": "assistant", "content": "hi"}), 400, 'only role "user"')
    refused(client.post(url, json={"role": "user", "content": "  "}), 400, "'content'")
    refused(client.post(url, json={"role": "user", "content": [{"type": "image_url"}]}), 400, "content parts")
    refused(client.post(url, json={"role": "user", "content": "x" * (MAX_BODY + 1)}), 413, "limit")

    def chunked() -> object:  # no Content-Length: the limit holds while the body is read
        yield b'{"role": "user", "content": "'
        for _ in range(MAX_BODY // 65536 + 1):
            yield b"x" * 65536
        yield b'"}'

    refused(client.post(url, content=chunked(), headers=json_type), 413, "limit")
    refused(client.post("/v1/threads", json={"messages": "hi"}), 400, "'messages'")
    refused(client.post("/v1/threads", json={"agent_id": 7}), 400, "'agent_id'")
    refused(client.post(f"/v1/threads/{thread_id}/runs", json={"stream": "yes"}), 400, "'stream'")
    refused(client.get(f"/v1/threads/{thread_id}/messages", params={"order": "sideways"}), 400, "'order'")
    refused(client.get("/v1/threads", params={"limit": "0"}), 400, "'limit'")
    assert client.get(f"/v1/threads/{thread_id}/messages").json()["data"] == []  # nothing bad was kept


def test_unknown_agents_threads_runs_and_endpoints_get_404_naming_them(client: httpx.Client) -> None:
    thread_id = new_thread(client, "Hello?")

    refused(client.post("/v1/threads", json={"agent_id": "nobody"}), 404, "'nobody'", "socrates")
    refused(client.post(f"/v1/threads/{thread_id}/runs", json={"assistant_id": "nobody"}), 404, "'nobody'")
    refused(client.get("/v1/agents/nobody"), 404, "'nobody'")
    for path in ("/v1/threads/conv_nope", "/v1/threads/conv_nope/messages", "/v1/threads/conv_nope/runs/run_x",
                 "/v1/threads/conv_nope/stream/run_x"):
        refused(client.get(path), 404, "conv_nope")
    refused(client.post("/v1/threads/conv_nope/messages", json={"content": "hi"}), 404, "conv_nope")
    refused(client.post("/v1/threads/conv_nope/runs", json={}), 404, "conv_nope")
    refused(client.get(f"/v1/threads/{thread_id}/runs/run_nope"), 404, "run_nope")
    refused(client.get(f"/v1/threads/{thread_id}/stream/run_nope"), 404, "run_nope")
    refused(client.post(f"/v1/threads/{thread_id}/runs/run_nope/cancel"), 404, "run_nope")
    refused(client.get("/v2/nothing"), 404, "/v1")
    refused(client.delete("/v1/agents"), 405)


def test_a_broken_agent_file_is_named_with_its_line(client_factory: Callable[[], httpx.Client]) -> None:
    client = client_factory()
    refused(client.post("/v1/threads", json={"agent_id": "broken"}), 422, "broken.toml:2")


@pytest.fixture
def client_factory(serve: Callable[..., Served], config_dir: Path) -> Callable[[], httpx.Client]:
    (config_dir / "agents").mkdir()
    (config_dir / "agents" / "broken.toml").write_text('name = "Broken"\nmodel = 3\n', encoding="utf-8")
    return lambda: serve().client()


def test_a_second_run_or_message_on_a_busy_thread_is_refused_until_it_ends(
        client: httpx.Client, ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(text=" ".join(["slow"] * 100), rate=40), Scripted(text="Next."))
    thread_id = new_thread(client, "Hello?")
    run_id = start_run(client, thread_id)

    refused(client.post(f"/v1/threads/{thread_id}/runs", json={}), 409, "already has a run in progress", run_id)
    refused(client.post(f"/v1/threads/{thread_id}/messages", json={"content": "Me too"}), 409, run_id)
    assert client.get(f"/v1/threads/{thread_id}").json()["active_run_id"] == run_id
    client.post(f"/v1/threads/{thread_id}/runs/{run_id}/cancel")
    read_stream(client, thread_id, run_id)

    assert client.post(f"/v1/threads/{thread_id}/messages", json={"content": "Now?"}).status_code == 201
    assert client.post(f"/v1/threads/{thread_id}/runs", json={}).status_code == 201


def test_a_run_on_a_thread_with_nothing_to_answer_is_refused(client: httpx.Client) -> None:
    thread_id = client.post("/v1/threads", json={}).json()["id"]

    refused(client.post(f"/v1/threads/{thread_id}/runs", json={}), 400, "no message to answer", "/messages")


def test_requests_from_other_origins_or_for_other_hosts_are_refused_and_no_cors_is_sent(
        server: Served, client: httpx.Client) -> None:
    evil = {"Origin": "http://evil.example"}

    refused(client.post("/v1/threads", json={}, headers=evil), 403, "evil.example", "--cors-origin")
    refused(client.get("/v1/agents", headers={"Host": "evil.example"}), 403, "loopback")
    agents = client.get("/v1/agents", headers=evil)
    assert agents.status_code == 200 and "access-control-allow-origin" not in agents.headers
    same = client.post("/v1/threads", json={}, headers={"Origin": server.url})
    assert same.status_code == 201
    assert client.get("/v1/threads").json()["data"][0]["id"] == same.json()["id"]  # the refused one made nothing
    assert len(client.get("/v1/threads").json()["data"]) == 1


def test_a_configured_cors_origin_is_allowed(serve: Callable[..., Served]) -> None:
    server = serve("--cors-origin", "http://localhost:3000")
    client = server.client()

    preflight = client.options("/v1/threads", headers={"Origin": "http://localhost:3000",
                                                        "Access-Control-Request-Method": "POST"})
    made = client.post("/v1/threads", json={}, headers={"Origin": "http://localhost:3000"})

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert made.status_code == 201 and made.headers["access-control-allow-origin"] == "http://localhost:3000"
    refused(client.post("/v1/threads", json={}, headers={"Origin": "http://evil.example"}), 403)


def test_off_loopback_the_token_is_required_shown_once_and_kept_private(
        serve: Callable[..., Served], data_dir: Path) -> None:
    server = serve("--host", "0.0.0.0", lines=2)
    token_line = server.banner[0]
    token = token_line.rsplit(" ", 1)[1]
    token_file = data_dir / "serve-token"
    anonymous = server.client()

    message = refused(anonymous.get("/v1/agents"), 401, "Authorization: Bearer")
    assert token not in message
    refused(anonymous.get("/v1/agents", headers={"Authorization": "Bearer wrong"}), 401)
    refused(anonymous.get("/v1/agents", headers={"Authorization": f"Basic {token}"}), 401)
    assert anonymous.get("/v1/agents", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert anonymous.get("/").status_code == 200  # the page asks for the token itself
    assert "shown once" in token_line and token_file.read_text().strip() == token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    server.stop()

    again = serve("--host", "0.0.0.0", lines=2)
    assert token not in "\n".join(again.banner) and str(token_file) in again.banner[0]
    assert again.client().get("/v1/agents", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert token not in again.stop()


def test_loopback_needs_no_token_and_makes_none(server: Served, client: httpx.Client, data_dir: Path) -> None:
    assert client.get("/v1/agents").status_code == 200
    assert not (data_dir / "serve-token").exists()
    assert "127.0.0.1" in server.banner[0]


def test_the_page_is_self_contained_and_locked_down(client: httpx.Client) -> None:
    page = client.get("/")
    html = page.text

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy and "unsafe-inline" not in policy
    # Nothing fetched from elsewhere: no external scripts, styles, fonts or images; no HTML parsing of text.
    assert "http://" not in html and "https://" not in html and " src=" not in html
    assert "innerHTML" not in html and "insertAdjacentHTML" not in html and "document.write" not in html


def test_many_watchers_of_one_run_all_get_every_delta(server: Served, ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(text=" ".join(f"w{i}" for i in range(200)), rate=400))
    client = server.client()
    thread_id = new_thread(client, "Hi")
    run_id = start_run(client, thread_id)
    counts: list[int] = []
    watchers = [threading.Thread(target=lambda: counts.append(count_deltas(read_stream(server.client(), thread_id,
                                                                                         run_id))))
                for _ in range(8)]
    for watcher in watchers:
        watcher.start()
    for watcher in watchers:
        watcher.join(timeout=120)

    assert counts == [200] * 8


def test_only_the_last_finished_runs_can_be_streamed_again(client: httpx.Client,
                                                           ollama_server: OllamaServer) -> None:
    from salon.serve.runs import KEEP_REPLAY

    thread_id = new_thread(client, "Hello?")
    runs = []
    for _ in range(KEEP_REPLAY + 1):
        runs.append(start_run(client, thread_id))
        read_stream(client, thread_id, runs[-1])

    refused(client.get(f"/v1/threads/{thread_id}/stream/{runs[0]}"), 410, "no longer kept", "/messages")
    assert client.get(f"/v1/threads/{thread_id}/runs/{runs[0]}").json()["status"] == "completed"
    assert names_of(read_stream(client, thread_id, runs[-1]))[-1] == "thread.run.completed"


def names_of(events: list[tuple[str, dict]]) -> list[str]:
    return [name for name, _ in events]


def test_the_data_dir_option_picks_the_conversations_served(serve: Callable[..., Served], tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    client = serve("--data-dir", str(elsewhere)).client()

    made = client.post("/v1/threads", json={"messages": [{"role": "user", "content": "Kept elsewhere"}]})

    assert made.status_code == 201
    assert (elsewhere / "salon.db").is_file()

"""The stream of a run over HTTP, through a real client against a real ``salon serve``: order and payloads, both
framings, several steps, late and several watchers, cancel, a provider failure, a client that goes away."""

from __future__ import annotations

import json
import signal
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from salon.store import Store
from tests.conftest import run_salon
from tests.serve.conftest import (
    Served,
    count_deltas,
    delta_text,
    names,
    new_thread,
    read_stream,
    start_run,
    wait_for,
    wait_for_run,
)
from tests.servers.ollama import OllamaServer, Scripted, tokenize

REPLY = "Virtue is knowledge, and **nobody** errs willingly."
ONE_STEP = ["thread.run.created", "thread.run.queued", "thread.run.in_progress",
            "thread.message.created", "thread.message.in_progress", "thread.message.delta…",
            "thread.message.completed", "thread.run.completed"]


def stored(data_dir: Path, thread_id: str) -> list:
    with Store.open(data_dir, secrets=()) as store:
        return store.messages(thread_id)


def test_a_one_step_run_streams_every_event_in_order_each_carrying_its_thread(
        server: Served, client: httpx.Client, ollama_server: OllamaServer, data_dir: Path) -> None:
    ollama_server.script(Scripted(text=REPLY))
    thread_id = new_thread(client, "What is virtue?")
    run_id = start_run(client, thread_id, "socrates")

    events = read_stream(client, thread_id, run_id)

    assert names(events) == ONE_STEP
    assert all(data["thread_id"] == thread_id for _, data in events)
    assert count_deltas(events) == len(tokenize(REPLY))
    assert delta_text(events) == REPLY
    run_created, _, in_progress, created, _ = (data for _, data in events[:5])
    assert (run_created["id"], run_created["status"], run_created["assistant_id"]) == (run_id, "queued", "socrates")
    assert in_progress["status"] == "in_progress"
    assert (created["object"], created["run_id"], created["metadata"]["agent_name"]) == \
        ("thread.message", run_id, "Socrates")
    assert created["metadata"]["show_streaming_message"] is True
    completed = events[-2][1]
    assert completed["id"] == created["id"] and completed["status"] == "completed"
    assert completed["content"][0]["text"]["value"] == REPLY
    assert completed["metadata"]["model"] == "ollama/llama3.2"
    assert completed["metadata"]["output_tokens"] == len(tokenize(REPLY))
    assert events[-1][1]["status"] == "completed" and events[-1][1]["usage"]["completion_tokens"] > 0
    # Kept as Salon's conversation: the store has it, and so `salon history` lists it.
    assert [(m.role, m.text, m.status) for m in stored(data_dir, thread_id)] == \
        [("user", "What is virtue?", "complete"), ("assistant", REPLY, "complete")]
    listed = run_salon("history", "list")
    assert thread_id[:15] in listed.stdout and "What is virtue?" in listed.stdout


def test_the_openai_framing_names_each_event_and_ends_with_done(
        client: httpx.Client, ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(text=REPLY))
    thread_id = new_thread(client, "What is virtue?")
    run_id = start_run(client, thread_id)

    events = read_stream(client, thread_id, run_id, framing="openai")

    assert names(events) == [*ONE_STEP, "done"]
    assert events[-1] == ("done", "[DONE]")
    assert delta_text(events[:-1]) == REPLY


def test_creating_a_run_with_stream_true_answers_with_its_stream_as_openai_does(
        client: httpx.Client, ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(text=REPLY))
    thread_id = new_thread(client, "What is virtue?")

    with client.stream("POST", f"/v1/threads/{thread_id}/runs", json={"assistant_id": "socrates", "stream": True}
                       ) as response:
        body = response.read().decode()

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert body.startswith("event: thread.run.created\ndata: {")
    assert body.endswith("event: thread.run.completed\ndata: " + body.rsplit("data: ", 2)[1].split("\n")[0] +
                         "\n\nevent: done\ndata: [DONE]\n\n")


def test_a_two_step_agent_gives_one_labelled_message_per_step(
        client: httpx.Client, ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(text="What is it you ask?"), Scripted(text="Let me tell you of a cave."))
    thread_id = new_thread(client, "Is the soul immortal?", agent="socrates-then-plato")
    run_id = start_run(client, thread_id, "socrates-then-plato")

    events = read_stream(client, thread_id, run_id)

    assert names(events) == [*ONE_STEP[:7], *ONE_STEP[3:7], "thread.run.completed"]
    created = [data for name, data in events if name == "thread.message.created"]
    assert [(c["assistant_id"], c["metadata"]["agent_name"], c["metadata"]["step"]) for c in created] == \
        [("socrates", "Socrates", 0), ("plato", "Plato", 1)]
    assert delta_text(events, created[0]["id"]) == "What is it you ask?"
    assert delta_text(events, created[1]["id"]) == "Let me tell you of a cave."
    assert events[-1][1]["metadata"]["message_ids"] == [c["id"] for c in created]

    listed = client.get(f"/v1/threads/{thread_id}/messages", params={"order": "asc"}).json()["data"]
    assert [(m["role"], m["assistant_id"], m["metadata"]["agent_name"], m["status"],
             m["content"][0]["text"]["value"]) for m in listed] == [
        ("user", None, None, "completed", "Is the soul immortal?"),
        ("assistant", "socrates", "Socrates", "completed", "What is it you ask?"),
        ("assistant", "plato", "Plato", "completed", "Let me tell you of a cave."),
    ]
    assert all(m["metadata"]["model"] for m in listed[1:]) and listed[1]["usage"]["completion_tokens"] == 5
    newest_first = client.get(f"/v1/threads/{thread_id}/messages").json()["data"]
    assert [m["id"] for m in newest_first] == [m["id"] for m in reversed(listed)]


def test_a_late_watcher_gets_what_was_sent_then_the_rest_live_and_two_watchers_see_the_same(
        server: Served, client: httpx.Client, ollama_server: OllamaServer) -> None:
    reply = " ".join(f"word{i}" for i in range(60))
    ollama_server.script(Scripted(text=reply, rate=40))
    thread_id = new_thread(client, "Speak slowly.")
    run_id = start_run(client, thread_id)
    first: list = []
    watcher = threading.Thread(target=lambda: first.extend(read_stream(server.client(), thread_id, run_id)))
    watcher.start()

    # The second joins once the first has seen part of the reply (the run goes on meanwhile).
    early = read_stream(server.client(), thread_id, run_id, stop_after=lambda seen: count_deltas(seen) >= 10)
    late = read_stream(server.client(), thread_id, run_id)
    watcher.join(timeout=120)

    assert count_deltas(early) == 10 and not watcher.is_alive()
    assert delta_text(late) == reply and names(late) == ONE_STEP
    assert late == first


def test_a_run_is_stopped_by_cancel_and_its_partial_reply_kept_interrupted(
        client: httpx.Client, ollama_server: OllamaServer, data_dir: Path) -> None:
    reply = " ".join(f"word{i}" for i in range(400))
    ollama_server.script(Scripted(text=reply, rate=30))
    thread_id = new_thread(client, "Go on forever.")
    run_id = start_run(client, thread_id)
    read_stream(client, thread_id, run_id, stop_after=lambda seen: count_deltas(seen) >= 3)

    cancelled = client.post(f"/v1/threads/{thread_id}/runs/{run_id}/cancel")
    events = read_stream(client, thread_id, run_id)

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelling"
    assert names(events)[-2:] == ["thread.message.incomplete", "thread.run.cancelled"]
    incomplete = events[-2][1]
    assert incomplete["incomplete_details"]["reason"] == "interrupted"
    partial = incomplete["content"][0]["text"]["value"]
    assert partial == delta_text(events) and 3 <= len(partial.split()) < 400 and reply.startswith(partial)
    assert client.get(f"/v1/threads/{thread_id}/runs/{run_id}").json()["status"] == "cancelled"
    assert [(m.role, m.text, m.status) for m in stored(data_dir, thread_id)][1] == \
        ("assistant", partial, "interrupted")
    again = client.post(f"/v1/threads/{thread_id}/runs/{run_id}/cancel")
    assert again.status_code == 409 and "already ended (cancelled)" in again.json()["error"]["message"]


def test_a_provider_failure_mid_reply_fails_the_run_and_keeps_the_partial_reply(
        client: httpx.Client, ollama_server: OllamaServer, data_dir: Path) -> None:
    ollama_server.script(Scripted(text="The soul is like a charioteer who", error_after=4,
                                  error="model runner has unexpectedly stopped"))
    thread_id = new_thread(client, "What is the soul?")
    run_id = start_run(client, thread_id)

    events = read_stream(client, thread_id, run_id)

    assert names(events)[-3:] == ["thread.message.delta…", "thread.message.incomplete", "thread.run.failed"]
    partial = "".join(tokenize("The soul is like a charioteer who")[:4])
    incomplete, failed = events[-2][1], events[-1][1]
    assert incomplete["content"][0]["text"]["value"] == partial == delta_text(events)
    assert incomplete["incomplete_details"]["reason"] == "failed"
    assert "unexpectedly stopped" in incomplete["incomplete_details"]["error"]
    assert failed["status"] == "failed" and "unexpectedly stopped" in failed["last_error"]["message"]
    reply = stored(data_dir, thread_id)[1]
    assert (reply.text, reply.status) == (partial, "failed") and "unexpectedly stopped" in reply.error
    # The thread is free again: the next run goes ahead.
    ollama_server.script(Scripted(text="Again."))
    client.post(f"/v1/threads/{thread_id}/messages", json={"role": "user", "content": "Try again?"})
    assert delta_text(read_stream(client, thread_id, start_run(client, thread_id))) == "Again."


def test_a_client_that_disconnects_mid_stream_neither_stops_nor_loses_the_run(
        server: Served, ollama_server: OllamaServer, data_dir: Path) -> None:
    reply = " ".join(f"word{i}" for i in range(50))
    ollama_server.script(Scripted(text=reply, rate=50))
    leaving = server.client()
    thread_id = new_thread(leaving, "Keep going.")
    run_id = start_run(leaving, thread_id)

    read_stream(leaving, thread_id, run_id, stop_after=lambda seen: count_deltas(seen) >= 2)
    leaving.close()

    staying = server.client()
    assert wait_for_run(staying, thread_id, run_id, "completed", "failed", "cancelled")["status"] == "completed"
    assert [(m.text, m.status) for m in stored(data_dir, thread_id)][1] == (reply, "complete")


def test_conversations_from_the_command_line_are_threads_and_continue_over_http(
        client: httpx.Client, ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(text="Asked from the shell."), Scripted(text="Answered over HTTP."))
    asked = run_salon("ask", "--agent", "plato", "Hello from the shell")
    assert asked.returncode == 0, asked.stderr

    threads = client.get("/v1/threads").json()["data"]
    assert [(t["title"], t["agent_id"]) for t in threads] == [("Hello from the shell", "plato")]
    thread_id = threads[0]["id"]
    client.post(f"/v1/threads/{thread_id}/messages", json={"role": "user", "content": "And over HTTP?"})
    created = client.post(f"/v1/threads/{thread_id}/runs", json={})
    events = read_stream(client, thread_id, created.json()["id"])

    assert delta_text(events) == "Answered over HTTP."
    assert events[0][1]["assistant_id"] == "plato"  # a run with no agent named takes the thread's
    sent = ollama_server.requests[-1]["messages"]
    assert [(m["role"], m["content"]) for m in sent if m["role"] != "system"] == [
        ("user", "Hello from the shell"), ("assistant", "Asked from the shell."), ("user", "And over HTTP?")]
    shown = run_salon("history", "show", thread_id)
    assert "Answered over HTTP." in shown.stdout


def test_stopping_the_server_mid_run_keeps_the_partial_reply(
        server: Served, client: httpx.Client, ollama_server: OllamaServer, data_dir: Path) -> None:
    ollama_server.script(Scripted(text=" ".join(f"word{i}" for i in range(400)), rate=30))
    thread_id = new_thread(client, "Go on.")
    run_id = start_run(client, thread_id)
    read_stream(client, thread_id, run_id, stop_after=lambda seen: count_deltas(seen) >= 3)

    server.stop()

    assert server.process.returncode == 0
    reply = wait_for(lambda: [m for m in stored(data_dir, thread_id) if m.role == "assistant"])[0]
    assert reply.status == "interrupted" and reply.text.startswith("word0 word1 word2")


def test_thinking_deltas_keep_the_text_part_first_so_text_readers_never_break(
        client: httpx.Client, ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(text="Virtue is knowledge.", thinking="Let me think about virtue."))
    thread_id = new_thread(client, "What is virtue?")

    events = read_stream(client, thread_id, start_run(client, thread_id))

    deltas = [data["delta"]["content"] for name, data in events if name == "thread.message.delta"]
    assert all(content[0]["type"] == "text" for content in deltas)
    assert delta_text(events) == "Virtue is knowledge."
    assert "".join(c[1]["thinking"]["value"] for c in deltas if len(c) > 1) == "Let me think about virtue."


def test_twenty_cancels_at_once_are_answered_one_200_and_nineteen_409(
        server: Served, client: httpx.Client, ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(text=" ".join(f"word{i}" for i in range(400)), rate=30))
    thread_id = new_thread(client, "Go on forever.")
    run_id = start_run(client, thread_id)
    read_stream(client, thread_id, run_id, stop_after=lambda seen: count_deltas(seen) >= 3)
    url = f"/v1/threads/{thread_id}/runs/{run_id}/cancel"

    answers = all_at_once(server, [f"POST {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
                                   "Connection: close\r\n\r\n".encode()] * 20)
    events = read_stream(client, thread_id, run_id)

    assert sorted(status for status, _ in answers) == [200] + [409] * 19
    assert next(body for status, body in answers if status == 200)["status"] == "cancelling"
    for refusal in (body["error"]["message"] for status, body in answers if status == 409):
        assert "already being cancelled" in refusal or "already ended (cancelled)" in refusal
    assert names(events)[-2:] == ["thread.message.incomplete", "thread.run.cancelled"]
    assert names(events).count("thread.run.cancelled") == 1


def test_sigterm_while_clients_watch_ends_their_streams_with_the_run_and_exits_quietly(
        server: Served, client: httpx.Client, ollama_server: OllamaServer, data_dir: Path) -> None:
    ollama_server.script(Scripted(text=" ".join(f"word{i}" for i in range(400)), rate=30))
    thread_id = new_thread(client, "Go on.")
    run_id = start_run(client, thread_id)
    seen: dict[str, list] = {"hub": [], "openai": []}

    def watch(framing: str) -> None:
        def note(events: list) -> bool:
            seen[framing] = list(events)
            return False

        seen[framing] = read_stream(server.client(), thread_id, run_id, framing=framing, stop_after=note)

    watchers = [threading.Thread(target=watch, args=(framing,)) for framing in seen]
    for watcher in watchers:
        watcher.start()
    wait_for(lambda: all(count_deltas(events) >= 3 for events in seen.values()))

    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=60)
    for watcher in watchers:
        watcher.join(timeout=60)
    stderr = server.process.stderr.read() if server.process.stderr else ""

    assert names(seen["hub"])[-2:] == ["thread.message.incomplete", "thread.run.cancelled"], names(seen["hub"])
    assert names(seen["openai"])[-3:] == ["thread.message.incomplete", "thread.run.cancelled", "done"]
    incomplete = seen["hub"][-2][1]
    partial = incomplete["content"][0]["text"]["value"]
    assert incomplete["incomplete_details"]["reason"] == "interrupted" and partial == delta_text(seen["hub"])
    assert partial.startswith("word0 word1 word2") and "word399" not in partial
    assert server.process.returncode == 0
    assert "Traceback" not in stderr and "graceful shutdown" not in stderr, stderr
    assert stderr.strip().splitlines() == ["salon serve: stopped"]
    reply = next(m for m in stored(data_dir, thread_id) if m.role == "assistant")
    assert (reply.status, reply.text) == ("interrupted", partial)


def all_at_once(server: Served, requests: list[bytes]) -> list[tuple[int, dict]]:
    """Send each request on its own connection, all opened first and then written in one go (so the server reads
    them together, as it would a burst of clicks); the status and JSON body of each answer."""
    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
    connections = [socket.create_connection((host, port), timeout=60) for _ in requests]
    for connection, request in zip(connections, requests, strict=True):
        connection.sendall(request)
    answers = []
    for connection in connections:
        with connection, connection.makefile("rb") as answer:
            status = int(answer.readline().split()[1])
            body = answer.read().split(b"\r\n\r\n", 1)[1]
            answers.append((status, json.loads(body)))
    return answers

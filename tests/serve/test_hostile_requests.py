"""Requests meant to break ``salon serve`` (issue 27), against the real server: text Python cannot store, JSON
nested past any need, and connections that send their request a byte at a time or never finish it."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from salon.serve.app import BODY_TIMEOUT
from salon.serve.bodies import MAX_DEPTH
from salon.serve.connections import HEADER_TIMEOUT
from salon.store import Store
from tests.hostile import LONE_LOW_SURROGATE, LONE_SURROGATE, SPLIT_PAIR
from tests.serve.conftest import Served
from tests.serve.test_api import refused

JSON = {"Content-Type": "application/json"}
CLOSE_LIMIT = 90.0  # seconds a test waits for the server to close what it must close: generous, never asserted
# The request line and part of a header: what a "slowloris" client sends, then a byte now and then, never the end.
HALF_SENT = b"GET /v1/agents HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def post_raw(client: httpx.Client, path: str, body: object) -> httpx.Response:
    # json.dumps writes a lone surrogate as the escape "\udfff", as a JavaScript client would send it.
    return client.post(path, content=json.dumps(body).encode(), headers=JSON)


def test_a_lone_surrogate_in_a_posted_message_is_mended_and_nothing_is_half_written(
        client: httpx.Client, data_dir: Path) -> None:
    made = post_raw(client, "/v1/threads", {"agent_id": "socrates", "messages": [
        {"role": "user", "content": f"x {LONE_LOW_SURROGATE} y"}]})
    assert made.status_code == 201, made.text
    thread_id = made.json()["id"]
    added = post_raw(client, f"/v1/threads/{thread_id}/messages", {"role": "user", "content": [
        {"type": "text", "text": f"a {LONE_SURROGATE} b {''.join(SPLIT_PAIR)}"}]})
    unknown = post_raw(client, "/v1/threads", {"agent_id": f"nobody{LONE_LOW_SURROGATE}"})

    assert added.status_code == 201, added.text
    assert added.json()["content"][0]["text"]["value"] == "a \ufffd b 😀"
    refused(unknown, 404, "nobody\ufffd")  # a JSON refusal naming it, not a plain-text 500
    listed = client.get(f"/v1/threads/{thread_id}/messages", params={"order": "asc"}).json()["data"]
    assert [m["content"][0]["text"]["value"] for m in listed] == ["x \ufffd y", "a \ufffd b 😀"]
    assert [t["id"] for t in client.get("/v1/threads").json()["data"]] == [thread_id]  # no empty thread left
    with Store.open(data_dir, secrets=()) as store:
        assert [m.text for m in store.messages(thread_id)] == ["x \ufffd y", "a \ufffd b 😀"]
        assert store.conversation(thread_id).title == "x \ufffd y"


def test_a_database_that_cannot_keep_a_thread_is_a_json_503_naming_it(client: httpx.Client, data_dir: Path) -> None:
    thread_id = client.post("/v1/threads", json={}).json()["id"]
    (data_dir / "salon.db").unlink()  # deleted while served: Salon refuses to write into a file nobody will see

    made = client.post("/v1/threads", json={"messages": [{"role": "user", "content": "Keep me?"}]})
    added = client.post(f"/v1/threads/{thread_id}/messages", json={"role": "user", "content": "And me?"})

    refused(made, 503, "salon.db was deleted or replaced", "restart Salon")
    refused(added, 503, "salon.db was deleted or replaced")


def test_json_nested_past_the_limit_is_refused_naming_the_limit(client: httpx.Client) -> None:
    thread_id = client.post("/v1/threads", json={}).json()["id"]
    url = f"/v1/threads/{thread_id}/messages"

    for depth in (MAX_DEPTH + 1, 100_000):
        nested = b'{"role": "user", "content": ' + b"[" * depth + b"]" * depth + b"}"
        refused(client.post(url, content=nested, headers=JSON), 400, f"the limit is {MAX_DEPTH}")
    refused(client.post("/v1/threads", content=b"[" * 100_000, headers=JSON), 400, f"the limit is {MAX_DEPTH}")
    refused(client.post(url, content=b'{"content": ' + b"9" * 5000 + b"}", headers=JSON), 400, "digits")

    assert client.post(url, json={"role": "user", "content": "Still here?"}).status_code == 201
    assert [m["content"][0]["text"]["value"] for m in client.get(url).json()["data"]] == ["Still here?"]
    assert len(client.get("/v1/threads").json()["data"]) == 1  # the refused thread was never made


def address(server: Served) -> tuple[str, int]:
    parts = urlsplit(server.url)
    assert parts.hostname == "127.0.0.1" and parts.port
    return parts.hostname, parts.port


def until_closed(sockets: Iterable[socket.socket], drip: Callable[[socket.socket], bool] = lambda s: False
                 ) -> dict[socket.socket, bytes]:
    """What the server sent on each socket until it closed it (waits up to :data:`CLOSE_LIMIT`).

    Once a second, each socket ``drip`` picks is sent one more byte of its header, as a slowloris client does.
    A socket the server closed while such a byte was on its way may be reset instead: it counts as closed.
    """
    answers = {sock: b"" for sock in sockets}
    open_ = set(answers)
    deadline = time.monotonic() + CLOSE_LIMIT
    next_drip = time.monotonic() + 1.0
    while open_:
        assert time.monotonic() < deadline, f"{len(open_)} connections still open after {CLOSE_LIMIT:g} s"
        readable, _, _ = select.select(list(open_), [], [], 0.5)
        for sock in readable:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                data = b""
            answers[sock] += data
            if not data:
                open_.discard(sock)
        if time.monotonic() >= next_drip:
            next_drip = time.monotonic() + 1.0
            for sock in [s for s in open_ if drip(s)]:
                try:
                    sock.send(b"a")
                except OSError:
                    open_.discard(sock)
    for sock in answers:
        sock.close()
    return answers


def status_of(answer: bytes) -> int | None:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None


def test_half_sent_requests_are_answered_408_and_closed_while_others_are_served(
        server: Served, client: httpx.Client) -> None:
    host, port = address(server)
    slow = [socket.create_connection((host, port)) for _ in range(50)]
    for sock in slow:
        sock.sendall(HALF_SENT)
    dripping = set(slow[:10])
    silent = socket.create_connection((host, port))  # connected, and not a byte sent
    body = socket.create_connection((host, port))   # the headers whole, the body never finished
    body.sendall(b"POST /v1/threads HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 100\r\n\r\n{\"agent_id\": ")

    served = client.get("/v1/agents")  # meanwhile, a whole request is answered at once
    answers = until_closed([*slow, silent, body], drip=lambda sock: sock in dripping)

    assert served.status_code == 200
    for sock in [*slow[10:], silent]:
        assert status_of(answers[sock]) == 408, answers[sock]
        assert f"did not arrive within {HEADER_TIMEOUT:g} seconds".encode() in answers[sock]
    # A drip that crossed the close may reset the connection before its 408 is read; closed, either way.
    assert all(status_of(answers[sock]) in (408, None) for sock in dripping)
    assert status_of(answers[body]) == 408 and f"within {BODY_TIMEOUT:g} seconds".encode() in answers[body]
    assert client.get("/v1/threads").json()["data"] == []  # the unfinished body made nothing
    assert client.get("/v1/agents").status_code == 200


def test_past_the_connection_cap_new_connections_are_refused_until_slow_ones_are_closed(
        serve: Callable[..., Served]) -> None:
    server = serve("--max-connections", "10")
    host, port = address(server)
    # Silent ones (no byte sent): a refused connection then closes cleanly, its answer readable.
    connections = [socket.create_connection((host, port)) for _ in range(30)]

    answers = until_closed(connections)
    after = server.client().get("/v1/agents")

    statuses = sorted(status_of(answer) or 0 for answer in answers.values())
    assert statuses == [408] * 10 + [503] * 20, statuses
    refusal = next(answer for answer in answers.values() if status_of(answer) == 503)
    assert b"10 connections open, its limit" in refusal
    assert after.status_code == 200  # the slow ones gone, the server serves again
    warnings = [line for line in server.stop().splitlines() if "--max-connections" in line]
    assert len(warnings) == 1, warnings  # said once, not once per refused connection

"""A real ``salon serve`` in a subprocess on a random loopback port, the Ollama test server as its model."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from salon.serve.sse import parse
from tests.conftest import ROOT, salon_env
from tests.servers.ollama import OllamaServer

STARTUP_TIMEOUT = 60.0


@dataclass
class Served:
    """One running ``salon serve``: its URL, what it printed first, and an HTTP client on it."""

    process: subprocess.Popen[str]
    url: str
    banner: list[str]
    token: str | None = None
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, **options: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=httpx.Timeout(30.0), **options)
        self.clients.append(client)
        return client

    def stop(self) -> str:
        """Stop it as Ctrl-C would; returns what it wrote on standard error."""
        for client in self.clients:
            client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.stderr.read() if self.process.stderr else ""


def start_serve(*args: str, lines: int = 1, **env: str) -> Served:
    """Start ``salon serve --port 0 ARGS`` and wait for its "serving on" line (``lines``: how many it prints)."""
    process = subprocess.Popen([sys.executable, "-m", "salon", "serve", "--port", "0", *args],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=salon_env(**env), cwd=ROOT)
    banner: list[str] = []
    deadline = time.monotonic() + STARTUP_TIMEOUT
    assert process.stdout is not None
    while len(banner) < lines:
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        line = process.stdout.readline() if ready else ""
        if not line:
            process.kill()
            raise AssertionError(f"salon serve did not start: {banner!r}\n{process.stderr.read()}")
        banner.append(line.rstrip("\n"))
    url = next(word for word in banner[-1].split() if word.startswith("http://")).rstrip("/")
    return Served(process, url, banner)


@pytest.fixture
def serve(ollama_server: OllamaServer) -> Iterator[Callable[..., Served]]:
    """Start as many servers as a test needs; each is stopped (as Ctrl-C would) at the end."""
    started: list[Served] = []

    def start(*args: str, lines: int = 1, **env: str) -> Served:
        served = start_serve(*args, lines=lines, **env)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()


@pytest.fixture
def server(serve: Callable[..., Served]) -> Served:
    return serve()


@pytest.fixture
def client(server: Served) -> httpx.Client:
    return server.client()


# -- what a client does ---------------------------------------------------------------------------------------

def new_thread(client: httpx.Client, prompt: str, agent: str = "socrates") -> str:
    response = client.post("/v1/threads", json={"agent_id": agent, "messages": [{"role": "user", "content": prompt}]})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def start_run(client: httpx.Client, thread_id: str, agent: str = "socrates", **body: Any) -> str:
    response = client.post(f"/v1/threads/{thread_id}/runs", json={"assistant_id": agent, **body})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def read_stream(client: httpx.Client, thread_id: str, run_id: str, framing: str | None = None,
                stop_after: Callable[[list[tuple[str, dict]]], bool] | None = None) -> list[tuple[str, dict]]:
    """Every event of a run's stream as ``(name, payload)``, until the server closes it (or ``stop_after``)."""
    params = {"format": framing} if framing else {}
    events: list[tuple[str, dict]] = []
    with client.stream("GET", f"/v1/threads/{thread_id}/stream/{run_id}", params=params) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        buffer = ""
        for text in response.iter_text():
            buffer += text
            *complete, buffer = buffer.split("\n\n")
            for block in complete:
                for name, data in parse(block + "\n\n"):
                    events.append(decode(name, data))
            if stop_after is not None and stop_after(events):
                return events
    return events


def decode(name: str | None, data: str) -> tuple[str, Any]:
    if name is None:  # the default framing: {"event": NAME, "data": PAYLOAD} on one data line
        message = json.loads(data)
        assert set(message) == {"event", "data"}, message
        return message["event"], message["data"]
    return name, (data if data == "[DONE]" else json.loads(data))


def names(events: list[tuple[str, Any]]) -> list[str]:
    """Event names, with runs of deltas folded into one ``thread.message.delta…``."""
    folded: list[str] = []
    for name, _ in events:
        if name == "thread.message.delta" and folded and folded[-1] == "thread.message.delta…":
            continue
        folded.append("thread.message.delta…" if name == "thread.message.delta" else name)
    return folded


def delta_text(events: list[tuple[str, Any]], message_id: str | None = None) -> str:
    return "".join(data["delta"]["content"][0]["text"]["value"] for name, data in events
                   if name == "thread.message.delta" and message_id in (None, data["id"]))


def count_deltas(events: list[tuple[str, Any]]) -> int:
    return sum(name == "thread.message.delta" for name, _ in events)


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(every)
    raise AssertionError("the condition did not hold in time")


def wait_for_run(client: httpx.Client, thread_id: str, run_id: str, *statuses: str) -> dict:
    def ended() -> dict | None:
        run = client.get(f"/v1/threads/{thread_id}/runs/{run_id}").json()
        return run if run["status"] in statuses else None

    return wait_for(ended)


def data_dir_of(home: Path) -> Path:
    return Path(os.environ.get("SALON_DATA_DIR", home / "data"))

"""`salon serve` under watchers: one run at 2,000 tok/s watched by 1 and by 20 HTTP clients, beside the Python API.

For each token: the time from the provider writing it (the Ollama test server stamps every token line it sends)
to a client reading its delta, and the CPU the `salon serve` process spent on the run. The baseline is the Python
API (`salon.run`) consuming the same scripted reply in a process of its own, so the ratios say what the HTTP face
costs on top of the stream itself (it also saves the run to SQLite, which the bare API does not).

    .venv/bin/python bench/serve.py                       # 3 runs each of 1 and 20 watchers, 4,000 tokens
    .venv/bin/python bench/serve.py --runs 5 --watchers 1 5 20 --tokens 8000 --rate 2000

Each process reads the same wall clock (one machine), so latencies across processes are comparable. Client
arrival times are per socket read: deltas that arrive in one read share its time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "app"), str(ROOT)]

from tests.servers._http import LoopbackServer  # noqa: E402
from tests.servers.ollama import OllamaHandler, OllamaServer, Scripted, ServerState, script_remote  # noqa: E402

DELTA = b'{"event":"thread.message.delta"'  # once per delta event in the default framing
RUN_END = (b'{"event":"thread.run.completed"', b'{"event":"thread.run.failed"', b'{"event":"thread.run.cancelled"')
FIRST_TOKEN_DELAY = 0.5  # seconds: every watcher is connected before the first token is written


# -- the provider: the Ollama test server, stamping each token line as it writes it ----------------------------

class StampingHandler(OllamaHandler):
    server: StampingServer

    def write_chunk(self, data: bytes) -> None:
        super().write_chunk(data)
        if b'"done": false' in data:
            self.server.sent.append(time.time())

    def do_GET(self) -> None:
        if self.path == "/_bench/sent":
            self.send_json(200, self.server.sent)
        elif self.path == "/_bench/reset":
            self.server.sent.clear()
            self.send_json(200, {})
        else:
            super().do_GET()


class StampingServer(OllamaServer):
    def __init__(self, port: int = 0) -> None:
        LoopbackServer.__init__(self, StampingHandler, port)
        self.state = ServerState()
        self.sent: list[float] = []


def provider_main() -> None:
    server = StampingServer()
    print(server.port, flush=True)
    server.serve_forever(poll_interval=0.05)


# -- the baseline: the Python API consuming the same reply ---------------------------------------------------

def api_main() -> None:
    import salon
    from salon.events import MessageDelta

    async def consume() -> dict[str, Any]:
        stamps: list[float] = []
        began = time.process_time()
        async for event in salon.run("socrates", "Go."):
            if isinstance(event, MessageDelta) and event.text:
                stamps.append(time.time())
        return {"arrived": stamps, "cpu": time.process_time() - began}

    print(json.dumps(asyncio.run(consume())))


# -- the HTTP watchers: raw sockets, so the bench's own parsing costs little --------------------------------

async def watch(host: str, port: int, path: str) -> list[float]:
    """Read one run's stream; returns the arrival time of each delta."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    arrived: list[float] = []
    tail = b""
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            break
        now = time.time()
        window = tail + chunk
        # Markers split across reads are found once, in the window that holds them whole.
        arrived.extend([now] * (window.count(DELTA) - tail.count(DELTA)))
        if any(end in window for end in RUN_END):
            break
        tail = window[-64:]
    writer.close()
    return arrived


def request(url: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data else {}
    with urllib.request.urlopen(urllib.request.Request(url, data, headers, method=method), timeout=30) as answer:
        return json.loads(answer.read())


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def latencies(sent: list[float], arrived: list[float]) -> list[float]:
    return [(a - s) * 1000 for s, a in zip(sent, arrived, strict=False)]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def script(provider: str, tokens: int, rate: float) -> None:
    request(f"{provider}/_bench/reset")
    script_remote(provider, Scripted(tokens=[f" w{i}" for i in range(tokens)], rate=rate,
                                     first_token_delay=FIRST_TOKEN_DELAY))


def measure_serve(serve_url: str, serve_pid: int, provider: str, watchers: int, tokens: int,
                  rate: float) -> dict[str, Any]:
    script(provider, tokens, rate)
    thread = request(f"{serve_url}/v1/threads", "POST",
                     {"agent_id": "socrates", "messages": [{"role": "user", "content": "Go."}]})
    cpu_before = process_cpu(serve_pid)
    run = request(f"{serve_url}/v1/threads/{thread['id']}/runs", "POST", {"assistant_id": "socrates"})
    host, port = serve_url.removeprefix("http://").split(":")

    async def all_watchers() -> list[list[float]]:
        path = f"/v1/threads/{thread['id']}/stream/{run['id']}"
        return await asyncio.gather(*(watch(host, int(port), path) for _ in range(watchers)))

    arrivals = asyncio.run(all_watchers())
    cpu = process_cpu(serve_pid) - cpu_before
    sent = request(f"{provider}/_bench/sent")
    lags = [lag for arrived in arrivals for lag in latencies(sent, arrived)]
    return {"lags": lags, "cpu": cpu, "correct": all(len(a) == tokens for a in arrivals) and len(sent) == tokens}


def measure_api(provider_host: str, provider: str, tokens: int, rate: float, env: dict[str, str]) -> dict[str, Any]:
    script(provider, tokens, rate)
    done = subprocess.run([sys.executable, __file__, "--api-consumer"], capture_output=True, text=True,
                          env={**env, "OLLAMA_HOST": provider_host}, cwd=ROOT, timeout=300, check=True)
    result = json.loads(done.stdout)
    sent = request(f"{provider}/_bench/sent")
    return {"lags": latencies(sent, result["arrived"]), "cpu": result["cpu"],
            "correct": len(result["arrived"]) == tokens == len(sent)}


def start(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=env)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--watchers", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--tokens", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--api-consumer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--provider", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.api_consumer:
        return api_main()
    if args.provider:
        return provider_main()

    home = Path(tempfile.mkdtemp(prefix="salon-bench-serve-"))
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'app'}{os.pathsep}{ROOT}", "SALON_CONFIG_DIR": str(home / "config"),
           "SALON_DATA_DIR": str(home / "data")}
    provider_process, port = start([sys.executable, __file__, "--provider"], env)
    provider_host, provider = f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"
    serve_process, banner = start([sys.executable, "-m", "salon", "serve", "--port", "0"],
                                  {**env, "OLLAMA_HOST": provider_host})
    serve_url = next(w for w in banner.split() if w.startswith("http://")).rstrip("/")
    try:
        rows = []
        api = [measure_api(provider_host, provider, args.tokens, args.rate, env) for _ in range(args.runs)]
        rows.append(summarise("Python API (salon.run)", 1, api, api))
        for watchers in args.watchers:
            runs = [measure_serve(serve_url, serve_process.pid, provider, watchers, args.tokens, args.rate)
                    for _ in range(args.runs)]
            rows.append(summarise("salon serve (SSE)", watchers, runs, api))
    finally:
        serve_process.terminate()
        provider_process.terminate()
        serve_process.wait(timeout=30)
        provider_process.wait(timeout=30)
    print(f"{args.tokens} tokens at {args.rate:g} tok/s, {args.runs} runs per row (medians of the per-run figures)\n")
    print("| consumer | watchers | lag p50 ms | lag p95 ms | lag max ms | × API p50 | CPU s | × API CPU | correct |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        print("| {consumer} | {watchers} | {p50:.2f} | {p95:.2f} | {max:.1f} | {lag_ratio:.2f} | {cpu:.2f} | "
              "{cpu_ratio:.2f} | {correct} |".format(**row))


def summarise(consumer: str, watchers: int, runs: list[dict[str, Any]], api: list[dict[str, Any]]) -> dict[str, Any]:
    def median(key: str, of: list[dict[str, Any]], q: float | None = None) -> float:
        if q is None:
            return statistics.median(run[key] for run in of)
        return statistics.median(pct(run["lags"], q) for run in of)

    p50 = median("lags", runs, 0.5)
    cpu = median("cpu", runs)
    return {"consumer": consumer, "watchers": watchers, "p50": p50, "p95": median("lags", runs, 0.95),
            "max": statistics.median(max(run["lags"]) for run in runs),
            "lag_ratio": p50 / median("lags", api, 0.5), "cpu": cpu, "cpu_ratio": cpu / median("cpu", api),
            "correct": all(run["correct"] for run in runs)}


if __name__ == "__main__":
    main()

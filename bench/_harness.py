"""What the benchmarks share: the Ollama test server in its own process, a realistic reply, and measuring."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "app"), str(ROOT)]

from tests.servers.ollama import Scripted, script_remote, tokenize  # noqa: E402

LAST_WORDS = "That is the whole answer, zebra quartz."


def realistic_markdown(tokens: int) -> str:
    """Markdown as a model writes it: paragraphs, a list, a long fenced code block, a table; ``tokens`` long."""
    paragraph = ("Streaming a reply well means showing **each token** soon after it arrives, without making the "
                 "terminal redraw the *whole* screen for every one of them. ")
    items = "".join(f"- Item {i}: keep `state` small and the frame rate steady.\n" for i in range(1, 9))
    code = "".join(f"    total_{i} = compute(values[{i}], weight={i}.5)  # step {i}\n" for i in range(1, 41))
    table = "| rate | cpu | lag |\n|---:|---:|---:|\n" + "".join(f"| {r} | {r / 10:.1f} | {r // 3} |\n"
                                                            for r in (50, 200, 2000))
    block = (f"## Section\n\n{paragraph * 3}\n\n{items}\n```python\ndef run():\n{code}```\n\n{table}\n"
             f"{paragraph * 2}\n\n")
    ending = tokenize(f"\n\n{LAST_WORDS}")
    pieces: list[str] = []
    while len(pieces) < tokens - len(ending):
        pieces.extend(tokenize(block))
    body = "".join(pieces[: max(tokens - len(ending), 0)])
    # Close a fence the cut may have left open, so the last words render as a paragraph in every app.
    if body.count("```") % 2:
        body += "\n```"
    return body + "".join(ending)


class ServerProcess:
    """The Ollama test server in a process of its own, so its CPU is not counted as the client's."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "tests.servers.ollama", "--port", "0"],
                                        stdout=subprocess.PIPE, text=True, cwd=ROOT,
                                        env={**os.environ, "PYTHONPATH": f"{ROOT / 'app'}{os.pathsep}{ROOT}"})
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}"
        self.host = f"127.0.0.1:{self.port}"

    def script(self, *replies: Scripted) -> None:
        script_remote(self.url, *replies)

    def finished_at(self) -> list[float]:
        with urllib.request.urlopen(f"{self.url}/_salon/finished", timeout=5) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=5)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Measurement:
    """One reply, measured inside the process that shows it."""

    case: str
    rate: float | None
    tokens: int
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    lag_seconds: float | None = None      # server's last token → final message on screen
    key_delays: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    correct: bool | None = None

    def summary(self) -> dict[str, object]:
        data = asdict(self)
        delays = sorted(self.key_delays)
        data["key_p95_ms"] = _percentile(delays, 95) * 1000 if delays else None
        data["key_max_ms"] = delays[-1] * 1000 if delays else None
        del data["key_delays"]
        return data


def _percentile(values: list[float], pct: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Stopwatch:
    def __init__(self) -> None:
        self.cpu = time.process_time()
        self.wall = time.monotonic()

    def read(self) -> tuple[float, float]:
        return time.process_time() - self.cpu, time.monotonic() - self.wall


def run_case(script: Path, *args: str) -> dict[str, Any]:
    """Run one measurement in a fresh process, so peak RSS and imports belong to that case alone."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'app'}{os.pathsep}{ROOT}", "TEXTUAL_ANIMATIONS": "none"}
    done = subprocess.run([sys.executable, str(script), "--one", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{script.name} {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_of(rows: list[dict[str, object]]) -> dict[str, object]:
    """The per-key median of several runs of the same case (non-numbers taken from the first)."""
    merged: dict[str, object] = dict(rows[0])
    for key, value in rows[0].items():
        numbers = [r[key] for r in rows if isinstance(r.get(key), int | float) and not isinstance(r.get(key), bool)]
        if isinstance(value, int | float) and not isinstance(value, bool) and numbers:
            merged[key] = statistics.median(numbers)
        elif isinstance(value, bool):
            merged[key] = all(r.get(key) for r in rows)
    return merged

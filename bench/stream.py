"""How fast a streamed reply reaches the screen: Salon beside a per-token MarkdownStream and a bare client.

    python bench/stream.py                 # every rate, 3 runs each, one table
    python bench/stream.py --runs 5 --rates 200 unlimited

Each case runs in a fresh process against the Ollama test server (in a process of its own) and reports the CPU
the showing process spent during the reply, the lag from the server's last token to the final message on
screen, key-press delays (a key every 100 ms), and peak RSS. Ratios compare cases measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    Measurement,
    ServerProcess,
    Stopwatch,
    median_of,
    peak_rss_mb,
    realistic_markdown,
    run_case,
)
from tests.servers.ollama import Scripted
from textual import events
from textual.app import App

DEFAULT_TOKENS = {"50": 400, "200": 1000, "2000": 5000, "unlimited": 5000}
CASES = ("floor", "baseline", "salon")
KEY_INTERVAL = 0.1


async def floor_case(server: ServerProcess, m: Measurement, text: str) -> None:
    """The bare ollama client consuming the stream and doing nothing: the least any app can spend."""
    import ollama

    client = ollama.AsyncClient(host=server.url)
    watch = Stopwatch()
    received = []
    async for part in await client.chat("llama3.2", [{"role": "user", "content": "go"}], stream=True):
        received.append(part.message.content or "")
    m.cpu_seconds, m.wall_seconds = watch.read()
    m.lag_seconds = time.time() - server.finished_at()[-1]
    m.correct = "".join(received) == text


async def baseline_case(server: ServerProcess, m: Measurement, text: str) -> None:
    """What peers do: every token written into a Textual Markdown through MarkdownStream."""
    import ollama
    from textual.app import ComposeResult
    from textual.containers import VerticalScroll
    from textual.widgets import Input, Markdown

    class Baseline(KeyTimingApp):
        def compose(self) -> ComposeResult:
            with VerticalScroll():
                yield Markdown()
            yield Input()

    app = Baseline()
    async with app.run_test(size=(120, 40)):
        markdown = app.query_one(Markdown)
        scroll = app.query_one(VerticalScroll)
        client = ollama.AsyncClient(host=server.url)
        keys = asyncio.create_task(app.press_keys_periodically())
        watch = Stopwatch()
        stream = Markdown.get_stream(markdown)
        async for part in await client.chat("llama3.2", [{"role": "user", "content": "go"}], stream=True):
            if part.message.content:
                await stream.write(part.message.content)
                scroll.scroll_end(animate=False)
        await stream.stop()
        await app.painted()
        m.cpu_seconds, m.wall_seconds = watch.read()
        m.lag_seconds = time.time() - server.finished_at()[-1]
        keys.cancel()
        m.key_delays = app.key_delays
        m.correct = markdown.source == text


async def salon_case(server: ServerProcess, m: Measurement, text: str) -> None:
    from salon_driver import drive_salon

    await drive_salon(server, m, text, KeyTiming)


class KeyTiming:
    """Mixed into an App: posts a key every 100 ms and records how long each waited before the app handled it."""

    key_delays: list[float]

    async def press_keys_periodically(self) -> None:
        self.key_delays = []
        while True:
            await asyncio.sleep(KEY_INTERVAL)
            key = events.Key("f19", None)
            key._salon_sent = time.monotonic()  # type: ignore[attr-defined]
            self.post_message(key)  # type: ignore[attr-defined]

    async def on_event(self, event: events.Event) -> None:
        sent = getattr(event, "_salon_sent", None)
        if sent is not None:
            self.key_delays.append(time.monotonic() - sent)
        await super().on_event(event)  # type: ignore[misc]

    async def painted(self) -> None:
        """Wait until the screen has been refreshed with what is mounted now."""
        done = asyncio.get_running_loop().create_future()
        self.call_after_refresh(lambda: done.done() or done.set_result(None))  # type: ignore[attr-defined]
        await done


class KeyTimingApp(KeyTiming, App):
    pass


def one(case: str, rate: str, tokens: int) -> dict[str, object]:
    text = realistic_markdown(tokens)
    m = Measurement(case, None if rate == "unlimited" else float(rate), tokens)
    with ServerProcess() as server:
        server.script(Scripted(text=text, rate=m.rate))
        runner = {"floor": floor_case, "baseline": baseline_case, "salon": salon_case}[case]
        asyncio.run(runner(server, m, text))
    m.peak_rss_mb = peak_rss_mb()
    return m.summary()


def table(rows: list[dict[str, object]]) -> str:
    by = {(r["case"], r["rate"]): r for r in rows}
    lines = ["| rate (tok/s) | tokens | case | CPU s | × baseline CPU | lag ms | key p95 ms | key max ms | "
             "peak RSS MB | correct |", "|---|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        base = by.get(("baseline", r["rate"]))
        ratio = r["cpu_seconds"] / base["cpu_seconds"] if base and base["cpu_seconds"] else None
        fmt = lambda v, k=1: "—" if v is None else f"{v:.{k}f}"  # noqa: E731
        lag = None if r["lag_seconds"] is None else r["lag_seconds"] * 1000
        lines.append(f"| {r['rate'] or 'unlimited'} | {r['tokens']} | {r['case']} | {fmt(r['cpu_seconds'], 2)} | "
                     f"{fmt(ratio, 2)} | {fmt(lag, 0)} | {fmt(r['key_p95_ms'])} | {fmt(r['key_max_ms'])} | "
                     f"{fmt(r['peak_rss_mb'], 0)} | {r['correct']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--one", nargs=3, metavar=("CASE", "RATE", "TOKENS"), help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rates", nargs="+", default=list(DEFAULT_TOKENS))
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON after the table")
    args = parser.parse_args()
    if args.one:
        case, rate, tokens = args.one
        print(json.dumps(one(case, rate, int(tokens))))
        return
    rows = []
    for rate in args.rates:
        for case in args.cases:
            runs = [run_case(Path(__file__), case, rate, str(DEFAULT_TOKENS.get(rate, 1000)))
                    for _ in range(args.runs)]
            rows.append(median_of(runs))
            print(f"  measured {case} at {rate}: {rows[-1]['cpu_seconds']:.2f} s CPU", file=sys.stderr)
    print(table(rows))
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()

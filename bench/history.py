"""Opening a long conversation: time until it is on screen, and memory, for 100, 1,000 and 10,000 messages.

    python bench/history.py [--runs 3]

Each size runs in a fresh process: the real app, headless at 120×40, opens a stored conversation of that many
messages (Markdown-rich, alternating user and assistant). Reported: time from the request to open it until the
screen has been refreshed with it, mounted message widgets, and peak RSS. The 100-message conversation is the
baseline the others are compared with.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import ROOT, peak_rss_mb, realistic_markdown, run_case

SIZES = (100, 1000, 10_000)


def fill(data_dir: Path, messages: int) -> str:
    from salon.reply import Reply
    from salon.store import Store

    answer = realistic_markdown(300)
    with Store.open(data_dir) as store:
        conversation = store.create_conversation("assistant")
        for index in range(messages // 2):
            store.add_user_message(conversation.id, f"Question {index}: how should a reply stream?")
            message_id = f"msg_bench_{index}"
            store.start_reply(conversation.id, message_id, agent_id="assistant", agent_name="Assistant",
                              model="ollama/llama3.2")
            store.finish_reply(message_id, Reply(text=f"Answer {index}.\n\n{answer}", model="ollama/llama3.2"),
                               "complete")
        return conversation.id


async def open_and_measure(data_dir: Path, conversation_id: str) -> dict[str, float]:
    from salon.api import Session
    from salon.config.read import Config
    from salon.tui.app import SalonApp
    from salon.tui.widgets.message import MessageBox

    class BenchSalon(SalonApp):
        CSS_PATH = str(Path(inspect.getfile(SalonApp)).with_name("salon.tcss"))

    app = BenchSalon(Session(Config(ollama_host="127.0.0.1:9")), data_dir=data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        started = time.monotonic()
        await app.chat_screen.open_conversation(conversation_id)
        while not app.query(MessageBox):  # the log mounts its page after the view itself
            await asyncio.sleep(0.002)
        await app.workers.wait_for_complete()
        done = asyncio.get_running_loop().create_future()
        app.call_after_refresh(lambda: done.done() or done.set_result(None))
        await done
        seconds = time.monotonic() - started
        mounted = len(app.query(MessageBox))
    return {"open_s": seconds, "mounted": mounted}


def one(messages: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        conversation_id = fill(data_dir, messages)
        rss_before = peak_rss_mb()
        result = asyncio.run(open_and_measure(data_dir, conversation_id))
    return {"messages": messages, **result, "peak_rss_mb": peak_rss_mb(), "rss_before_app_mb": rss_before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.one:
        sys.path[:0] = [str(ROOT / "app"), str(ROOT)]
        print(json.dumps(one(args.one)))
        return
    rows = []
    for size in SIZES:
        runs = [run_case(Path(__file__), str(size)) for _ in range(args.runs)]
        rows.append({key: statistics.median(r[key] for r in runs) for key in runs[0]})
    base = rows[0]
    print("| messages | open → on screen s | × 100 messages | mounted widgets | peak RSS MB | × 100 messages |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['messages']:,} | {r['open_s']:.3f} | {r['open_s'] / base['open_s']:.2f} | {r['mounted']:.0f} | "
              f"{r['peak_rss_mb']:.0f} | {r['peak_rss_mb'] / base['peak_rss_mb']:.2f} |")


if __name__ == "__main__":
    main()

"""The timings that used to be asserted inside tests (issue 15: a test may not depend on an idle machine).

    python bench/responsiveness.py

Prints, for one run each: the longest stretch without a frame while a 1 MB reply streams through the chat app
(a user takes over ~1 s for a hung app), the seconds a 1 MB whole reply takes to show, how long opening a
10,000-message conversation takes, and how long `salon ask` takes to give up on an Ollama host that refuses
connections. The tests keep the conditions (shown whole, keys handled, one line naming the host); the figures
live here, read on a quiet machine.
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "app"), str(ROOT)]

from tests.servers.ollama import OllamaServer, Scripted  # noqa: E402
from tests.tui.conftest import make_app, send, settle, wait_for  # noqa: E402

from salon.store import Conversation, Store, StoredMessage  # noqa: E402
from salon.tui.widgets import FinalMessage  # noqa: E402

MEGABYTE = ("A line of a long reply, written to fill a megabyte without a blank line.\n" * 15_000)[: 1 << 20]


def _pieces(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


async def megabyte_streamed(server: OllamaServer, data_dir: Path) -> float:
    """Longest gap between frames (s) while a 1 MB reply streams at 1,000 pieces of 1 kB a second."""
    server.script(Scripted(tokens=_pieces(MEGABYTE, 1024), rate=1000))
    app = make_app(server, data_dir)
    beats: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.set_interval(0.05, lambda: beats.append(time.monotonic()))
        await send(app, pilot, "Write a lot")
        await wait_for(pilot, lambda: app.screen.query(FinalMessage), timeout=120, what="the final message")
        await pilot.pause()
        beats.append(time.monotonic())
    return max(b - a for a, b in itertools.pairwise(beats))


async def ten_thousand_messages(server: OllamaServer, data_dir: Path) -> float:
    """Seconds to open a 10,000-message conversation in the chat app."""
    items = [(Conversation("conv_0000", "Marathon", "assistant", 1.0, 1.0, 10_000),
              [StoredMessage(f"msg_{n:024x}", "conv_0000", "user" if n % 2 == 0 else "assistant", f"message {n}",
                             "", None, None, None, "complete", None, None, False, None, None, None, None, None,
                             float(n)) for n in range(10_000)])]
    with Store.open(data_dir) as store:
        store.import_conversations(items)
    app = make_app(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        started = time.perf_counter()
        await app.chat_screen.open_conversation("conv_0000")
        await pilot.pause()
        return time.perf_counter() - started


def refused_host() -> float:
    """Seconds for `salon ask` to give up on a host that refuses connections."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "salon", "ask", "hi"], capture_output=True, cwd=ROOT, timeout=60,
                   env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'app'}:{ROOT}", "OLLAMA_HOST": "127.0.0.1:9",
                        "HOME": tempfile.mkdtemp(), "XDG_CONFIG_HOME": tempfile.mkdtemp(),
                        "XDG_DATA_HOME": tempfile.mkdtemp()})
    return time.monotonic() - started


def main() -> None:
    with OllamaServer() as server:
        with tempfile.TemporaryDirectory() as folder:
            gap = asyncio.run(megabyte_streamed(server, Path(folder)))
        with tempfile.TemporaryDirectory() as folder:
            opened = asyncio.run(ten_thousand_messages(server, Path(folder)))
    refused = refused_host()
    print("| measure | seconds | was asserted in a test as |")
    print("|---|---|---|")
    print(f"| 1 MB streamed reply: longest stretch without a frame | {gap:.2f} | < 1.0 |")
    print(f"| opening a 10,000-message conversation | {opened:.2f} | < 5 |")
    print(f"| `salon ask` giving up on a refused host | {refused:.2f} | < 2.0 |")


if __name__ == "__main__":
    main()

"""Salon's side of bench/stream.py: the real app, headless, sending one prompt and showing the reply."""

from __future__ import annotations

import asyncio
import inspect
import tempfile
import time
from pathlib import Path

from _harness import Measurement, ServerProcess, Stopwatch


async def until(condition, interval: float = 0.005) -> None:
    """Poll ``condition``: the reply's worker gives no awaitable that ends exactly at the final swap."""
    while not condition():
        await asyncio.sleep(interval)


async def drive_salon(server: ServerProcess, m: Measurement, text: str, key_timing: type) -> None:
    from salon.api import Session
    from salon.config.read import Config
    from salon.tui.app import SalonApp
    from salon.tui.widgets.markdown_body import MarkdownBody
    from salon.tui.widgets.message import FinalMessage

    class BenchSalon(key_timing, SalonApp):  # type: ignore[misc, valid-type]
        # Textual resolves CSS_PATH beside the subclass's module, which is this bench's folder.
        CSS_PATH = str(Path(inspect.getfile(SalonApp)).with_name("salon.tcss"))

    with tempfile.TemporaryDirectory() as data_dir:
        session = Session(Config(ollama_host=server.host))
        app = BenchSalon(session, data_dir=Path(data_dir))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await app.workers.wait_for_complete()  # start-up work (connection check) is not the reply's
            keys = asyncio.create_task(app.press_keys_periodically())
            watch = Stopwatch()
            await app.chat_screen.send("Write the long answer.")
            await until(lambda: len(app.query(FinalMessage)) > 0 and not app.chat_screen.view.busy)
            await app.painted()
            shown = time.time()
            m.cpu_seconds, m.wall_seconds = watch.read()
            m.lag_seconds = shown - server.finished_at()[-1]
            keys.cancel()
            m.key_delays = app.key_delays
            finals = list(app.query(FinalMessage))
            body = finals[-1].query_one(MarkdownBody) if finals else None
            m.correct = body is not None and body.markdown.source == text and finals[-1].record.text == text

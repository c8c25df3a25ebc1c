"""Redraw docs/screenshot.svg, the README's picture: the real app on the Ollama test server, headless.

    .venv/bin/python docs/screenshot.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "app"), str(ROOT)]

from tests.servers.ollama import OllamaServer, Scripted  # noqa: E402
from tests.tui.conftest import ManualClock, make_app, send, settle  # noqa: E402

SOCRATES = "And what, friend, do *you* take virtue to be: a kind of **knowledge**, or a gift of the gods?"
PLATO = """Consider the soul as a city with three classes:

- **reason**, which rules and loves wisdom,
- **spirit**, which defends and loves honour,
- **appetite**, which provides and loves gain.

Virtue is the *harmony* of the three, each doing its own work:

```python
def is_virtuous(soul):
    return soul.reason.rules and soul.spirit.obeys and soul.appetite.tempered
```
"""


async def main() -> None:
    with OllamaServer() as server, tempfile.TemporaryDirectory() as data_dir:
        filler = Scripted(text="A reply that is only here to fill the list.")
        # A rate gives the footers honest tokens per second (the test server times its own sending).
        server.script(filler, filler, Scripted(text=SOCRATES, rate=40), Scripted(text=PLATO, rate=60))
        app = make_app(server, Path(data_dir), agent="socrates-then-plato", clock=ManualClock(),
                       show_conversations=True)
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(app, pilot)
            await send(app, pilot, "Where do good habits come from?")
            await settle(app, pilot)
            await pilot.press("ctrl+n")
            await settle(app, pilot)
            await send(app, pilot, "What is virtue?")
            await settle(app, pilot)
            await settle(app, pilot)
            app.save_screenshot(str(ROOT / "docs" / "screenshot.svg"))


if __name__ == "__main__":
    asyncio.run(main())

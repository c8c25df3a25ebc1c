"""Issue 12, as a property of the chat app: whatever an agent name, a server's model name or error, an imported
conversation's title or a reply holds, the app keeps running, no control character reaches the terminal, and every
printable character of a name, model, error and title is on screen (a reply is Markdown, which may style or
consume its punctuation, so a reply is checked for the first two and for being kept exactly).

Hypothesis generates the strings from the hostile corpus, markup brackets, controls, bidi and surrogates; each
example is one run of the real app on the Ollama test server.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from salon.store import Store
from salon.surrogates import mend
from tests.hostile import forbidden, hostile_line, hostile_text, printable
from tests.servers.ollama import OllamaServer, Scripted
from tests.tui.conftest import screen_text, send, settle, wait_for
from tests.tui.hostile_apps import assert_running, hostile_app, import_shared


def _missing(text: str, screen: str) -> list[str]:
    return [c for c in printable(mend(text)) if c not in screen]


async def _scenario(server: OllamaServer, folder: Path, name: str, model: str, error: str, title: str,
                    reply: str) -> None:
    data_dir = folder / "data"
    data_dir.mkdir()
    server.state.replies.clear()  # nothing left over from an example that failed
    import_shared(data_dir, title=title)
    server.script(Scripted(tokens=[reply[i:i + 3] for i in range(0, len(reply), 3)] or [""],
                           reported_model=model),
                  Scripted(status=400, error=error))
    # A TOML file cannot hold a lone surrogate: the name as an agent file can carry it.
    name = mend(name)
    app = hostile_app(server, data_dir, folder, name=name, show_conversations=True)
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "first")
        await settle(app, pilot)
        screen = screen_text(app)
        assert forbidden(app.export_screenshot().replace("\n", "")) == []
        assert _missing(name, screen) == [], "the agent's name"
        assert _missing(model, screen) == [], "the server's model name"
        assert _missing(title, screen) == [], "the imported conversation's title"
        await send(app, pilot, "second")
        await settle(app, pilot)
        await wait_for(pilot, lambda: "failed" in screen_text(app), what="the failed reply")
        screen = screen_text(app)
        assert forbidden(app.export_screenshot().replace("\n", "")) == []
        assert _missing(error, screen) == [], "the server's error"
        assert_running(app)
    with Store.open(data_dir) as store:
        conversation = next(c for c in store.conversations() if c.id != "conv_shared")
        kept = store.messages(conversation.id)
    assert [m.text for m in kept[:2]] == ["first", mend(reply)]


@pytest.mark.timeout(600)
# Each example is a run of the whole app: a failure is reported as found rather than shrunk for minutes.
@settings(max_examples=8, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(name=hostile_line(20), model=hostile_line(20), error=hostile_line(40), title=hostile_line(14),
       reply=hostile_text(120))
def test_hostile_strings_never_crash_the_app_nor_reach_the_terminal(
        ollama_server: OllamaServer, name: str, model: str, error: str, title: str, reply: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(_scenario(ollama_server, Path(folder), name, model, error, title, reply))

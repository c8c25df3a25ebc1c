"""What Salon keeps stays private and whole: file modes (issue 13, item 5), a read-only or deleted database in the
chat app (items 7, 8), a deleted default agent (item 9), redaction that leaves harmless text alone (item 10), and
``salon config show`` naming every problem (item 12)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from salon.api import Session
from salon.config.read import load_config
from salon.store import REDACTED
from salon.tui.app import SalonApp
from salon.tui.widgets import FinalMessage
from tests.faults.conftest import PLANTED_ENV, Home, popen_salon, salon, streaming_words
from tests.servers.ollama import OllamaServer, Scripted
from tests.tui.conftest import ManualClock, screen_text, send, settle, wait_for

# -- 5. private files ---------------------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_folder_is_0700_and_every_file_salon_writes_0600(
        home: Home, ollama_server: OllamaServer, tmp_path: Path) -> None:
    # As an older Salon left them: a world-readable folder and database.
    home.data_dir.chmod(0o755)
    ollama_server.script(Scripted(text="First."), Scripted(text="Second."))
    assert salon("ask", "One?").returncode == 0
    for name in ("salon.db", "salon.db-wal", "salon.db-shm"):
        path = home.data_dir / name
        if path.exists():
            path.chmod(0o644)
    home.data_dir.chmod(0o755)

    old = os.umask(0o022)  # the usual umask, inherited by the child; Salon must not depend on a stricter one
    try:
        proc = popen_salon("ask", "Two?")
        proc.communicate(timeout=60)
    finally:
        os.umask(old)
    assert proc.returncode == 0
    assert _mode(home.data_dir) == 0o700
    files = sorted(p.name for p in home.data_dir.iterdir())
    assert "salon.db" in files
    for name in files:
        assert _mode(home.data_dir / name) == 0o600, (name, oct(_mode(home.data_dir / name)))

    export = tmp_path / "out.json"
    assert salon("history", "export", "--all", "-o", str(export)).returncode == 0
    assert _mode(export) == 0o600
    markdown = tmp_path / "out.md"
    markdown.write_text("old export, world-readable\n")
    markdown.chmod(0o644)
    assert salon("history", "export", "--all", "-o", str(markdown)).returncode == 0
    assert _mode(markdown) == 0o600 and "Second." in markdown.read_text()


def test_a_fresh_data_folder_is_created_0700(home: Home, ollama_server: OllamaServer, tmp_path: Path) -> None:
    fresh = tmp_path / "nested" / "fresh"
    ollama_server.script(Scripted(text="Fresh."))
    assert salon("ask", "--data-dir", str(fresh), "Hi?").returncode == 0
    assert _mode(fresh) == 0o700 and _mode(fresh / "salon.db") == 0o600


# -- 7. a read-only database in the chat app ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def planted_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PLANTED_ENV.items():
        monkeypatch.setenv(name, value)


def chat_app(home: Home, server: OllamaServer) -> SalonApp:
    config = dataclasses.replace(load_config(), ollama_host=server.host, read_timeout=10.0, connect_timeout=2.0)
    return SalonApp(Session(config), data_dir=home.data_dir, clock=ManualClock(), show_conversations=False)


def _flat(app: SalonApp) -> str:
    return " ".join(screen_text(app).translate({ord(c): " " for c in "│▌▕▏"}).split())


async def _answered(app: SalonApp, pilot, count: int) -> None:
    await wait_for(pilot, lambda: len(app.screen.query(FinalMessage)) >= count, what=f"{count} final replies")


async def test_an_immutable_database_leaves_the_chat_app_answering_and_saying_it_does_not_save(
        home: Home, ollama_server: OllamaServer) -> None:
    if shutil.which("chattr") is None:
        pytest.skip("chattr (e2fsprogs) is not installed")
    ollama_server.script(Scripted(text="Kept before."))
    assert salon("ask", "Earlier?").returncode == 0
    path = home.data_dir / "salon.db"
    before = path.read_bytes()
    locked = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if locked.returncode != 0:
        pytest.skip(f"chattr +i is not possible here: {locked.stderr.strip()}")
    try:
        ollama_server.script(Scripted(text="Answered anyway."), Scripted(text="And again."))
        app = chat_app(home, ollama_server)
        async with app.run_test(size=(160, 40), notifications=True) as pilot:
            await settle(app, pilot)
            await send(app, pilot, "Can you hear me?")
            await _answered(app, pilot, 1)
            await send(app, pilot, "Still?")
            await _answered(app, pilot, 2)
            text = _flat(app)
            assert "Can you hear me?" in text and "Answered anyway." in text and "And again." in text
            assert "not saved" in text, text
            assert app.screen.composer.text == ""
            # The second prompt went with the first exchange as history.
            sent = [m["content"] for m in ollama_server.requests[-1]["messages"] if m["role"] != "system"]
            assert sent == ["Can you hear me?", "Answered anyway.", "Still?"]
        assert path.read_bytes() == before
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


# -- 8. the database deleted while Salon runs ------------------------------------------------------------------


async def test_a_database_deleted_while_the_chat_app_runs_is_noticed_and_the_conversation_kept(
        home: Home, ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(text="Saved once."), Scripted(text="Kept in memory."))
    app = chat_app(home, ollama_server)
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "First?")
        await _answered(app, pilot, 1)
        for path in home.data_dir.glob("salon.db*"):
            path.unlink()
        await send(app, pilot, "Second?")
        await _answered(app, pilot, 2)
        text = _flat(app)
        assert "was deleted" in text and "not saved" in text, text
        assert "First?" in text and "Saved once." in text and "Second?" in text and "Kept in memory." in text
        sent = [m["content"] for m in ollama_server.requests[-1]["messages"] if m["role"] != "system"]
        assert sent == ["First?", "Saved once.", "Second?"]


def test_a_database_deleted_under_salon_ask_mid_reply_is_said_and_the_reply_printed(
        home: Home, ollama_server: OllamaServer) -> None:
    from tests.faults.texts import STORY

    ollama_server.script(Scripted(text=STORY, rate=40))
    proc = popen_salon("ask", "--stream", "Tell me a story")
    import time

    deadline = time.monotonic() + 60
    while streaming_words(home) < 1:  # the reply streams and its first checkpoint is in the file
        assert time.monotonic() < deadline
        time.sleep(0.05)
    for path in home.data_dir.glob("salon.db*"):
        path.unlink()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and out == STORY + "\n"
    assert "salon: the reply is not being saved:" in err and "was deleted" in err, err


# -- 9. a default agent whose file is gone ------------------------------------------------------------------


def test_a_deleted_default_agent_falls_back_to_the_bundled_one_with_a_warning(
        home: Home, ollama_server: OllamaServer) -> None:
    home.write_config('default_agent = "mine"\n')  # its file, <config>/agents/mine.toml, was deleted
    ollama_server.script(Scripted(text="The assistant answers."))
    done = salon("ask", "Hello?")
    assert (done.returncode, done.stdout) == (0, "The assistant answers.\n"), done.stderr
    assert done.stderr == ("salon: warning: default_agent 'mine' in config.toml names no agent (was its file "
                           "deleted?); using 'assistant'\n")
    assert home.only_exchange()[1].agent_id == "assistant"


async def test_the_chat_app_opens_with_the_bundled_agent_when_the_default_is_gone(
        home: Home, ollama_server: OllamaServer) -> None:
    home.write_config('default_agent = "mine"\n')
    app = chat_app(home, ollama_server)
    assert app.agent.id == "assistant"
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await settle(app, pilot)
        assert "default_agent 'mine'" in _flat(app)


# -- 10. redaction keeps harmless text ------------------------------------------------------------------------


def test_a_path_in_a_variable_with_a_secret_sounding_name_is_not_redacted_but_a_key_is(
        home: Home, ollama_server: OllamaServer) -> None:
    token = "ghp_0123456789abcdefABCDEF0123456789abcd"
    prompt = f"My passwords live in /home/alice/.password-store and my token is {token}"
    done = salon("ask", prompt, PASSWORD_STORE_DIR="/home/alice/.password-store", GITHUB_TOKEN=token,
                 SSH_AUTH_SOCK="/tmp/ssh-XXXX/agent.1234")
    assert done.returncode == 0
    stored = home.only_exchange()[0].text
    assert stored == f"My passwords live in /home/alice/.password-store and my token is {REDACTED}"


# -- 12. salon config show names every problem ---------------------------------------------------------------


def test_config_show_reports_unknown_keymap_ids_as_the_app_does(home: Home) -> None:
    home.write_config('[keymap]\n"no-such-binding" = "ctrl+y"\n"new-conversation" = "ctrl+k"\n')
    shown = salon("config", "show")
    assert shown.returncode == 0
    assert "keymap.no-such-binding: no binding has this id" in shown.stderr, shown.stderr
    assert "new-conversation" not in shown.stderr


def test_config_show_reports_a_broken_theme_file_with_its_line_not_as_missing(home: Home) -> None:
    themes = home.config_dir / "themes"
    themes.mkdir()
    path = themes / "mine.toml"
    path.write_text('name = "mine"\nprimary = "#112233"\nprimary = "#445566"\n', encoding="utf-8")
    home.write_config('theme = "mine"\n')
    shown = salon("config", "show")
    assert f"warning: {path}:3: " in shown.stderr, shown.stderr
    assert "does not exist" not in shown.stderr
    assert f"theme 'mine' failed to load ({path})" in shown.stderr

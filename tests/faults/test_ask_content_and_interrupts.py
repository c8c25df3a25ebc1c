"""``salon ask`` with replies that are huge or look like markup, and runs stopped at awkward moments.

What a model sends is the user's: printed byte for byte, kept byte for byte, and a stop (Ctrl-C, ``kill -9``)
at any moment leaves the prompt and the text that arrived in the database.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.faults.conftest import Home, next_command_works, popen_salon, salon
from tests.faults.texts import MARKUP, MEGABYTE, STORY, TEXT
from tests.servers.ollama import OllamaServer, Scripted


def _pieces(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def test_a_megabyte_reply_is_printed_and_kept_whole(home: Home, ollama_server: OllamaServer) -> None:
    assert len(MEGABYTE) == 1 << 20
    ollama_server.script(Scripted(tokens=_pieces(MEGABYTE, 1024)))
    done = salon("ask", "--stream", "Write a lot", timeout=60)

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == MEGABYTE + "\n"
    _, reply = home.only_exchange()
    assert (reply.status, len(reply.text), reply.text == MEGABYTE) == ("complete", 1 << 20, True)


def test_markup_like_text_is_printed_kept_and_exported_literally(home: Home, ollama_server: OllamaServer,
                                                                 tmp_path: Path) -> None:
    # 7-character pieces split every tag, escape sequence and fence across chunks.
    ollama_server.script(Scripted(tokens=_pieces(MARKUP, 7)))
    done = salon("ask", "--stream", "Show me [bold]markup[/bold]", timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.stdout == MARKUP + "\n"
    prompt, reply = home.only_exchange()
    assert (prompt.text, reply.text, reply.status) == ("Show me [bold]markup[/bold]", MARKUP, "complete")

    shown = salon("history", "show")
    assert shown.returncode == 0 and MARKUP in shown.stdout
    exported = tmp_path / "export.json"
    assert salon("history", "export", "-o", str(exported)).returncode == 0
    (conversation,) = json.loads(exported.read_text(encoding="utf-8"))["conversations"]
    assert conversation["messages"][1]["text"] == MARKUP


# -- stopped at awkward moments ------------------------------------------------------------------------------


def _newest_reply(data_dir: Path) -> tuple[str, str] | None:
    """(status, text) of the newest reply, read as another program would while Salon runs."""
    path = data_dir / "salon.db"
    if not path.exists():
        return None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute("SELECT status, text FROM messages WHERE role = 'assistant' ORDER BY pk DESC LIMIT 1"
                            ).fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()


def _wait(condition: Callable[[], object], what: str, timeout: float = 20) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _read_until(process: subprocess.Popen[str], wanted: str, timeout: float = 20) -> str:
    """What the process printed so far, read until ``wanted`` appears (without waiting for it to exit)."""
    seen = b""
    deadline = time.monotonic() + timeout
    fd = process.stdout.fileno()
    while wanted.encode() not in seen:
        assert time.monotonic() < deadline, f"never printed {wanted!r}; got {seen[-300:]!r}"
        if select.select([fd], [], [], 0.1)[0]:
            chunk = os.read(fd, 65536)
            assert chunk, f"output ended before {wanted!r}"
            seen += chunk
    return seen.decode()


def _finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        out, err = process.communicate(timeout=15)
    finally:
        process.kill()
    return out, err


def test_ctrl_c_while_waiting_for_the_first_token_keeps_the_prompt_and_an_empty_interrupted_reply(
        home: Home, ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(text=TEXT, first_token_delay=20))  # a model still loading
    process = popen_salon("ask", "--stream", "Are you loading?")
    _wait(lambda: ollama_server.requests, "the request to reach the server")
    assert _newest_reply(home.data_dir) == ("streaming", "")
    process.send_signal(signal.SIGINT)
    out, err = _finish(process)

    assert (process.returncode, out) == (130, "")
    assert err == "salon: interrupted; the partial reply is above\n"
    prompt, reply = home.only_exchange()
    assert (prompt.text, reply.status, reply.text) == ("Are you loading?", "interrupted", "")
    next_command_works(ollama_server, home)


def test_ctrl_c_after_the_last_token_keeps_the_whole_text_once(home: Home, ollama_server: OllamaServer) -> None:
    # Every token has arrived; the server has not yet sent its final line with the counts.
    ollama_server.script(Scripted(text=TEXT, done_delay=20))
    process = popen_salon("ask", "--stream", "What is virtue?")
    printed = _read_until(process, TEXT)
    process.send_signal(signal.SIGINT)
    out, err = _finish(process)

    assert process.returncode == 130
    assert printed + out == TEXT + "\n"
    assert "interrupted" in err
    prompt, reply = home.only_exchange()
    assert (prompt.text, reply.status, reply.text) == ("What is virtue?", "interrupted", TEXT)
    next_command_works(ollama_server, home)


def test_kill_9_mid_reply_keeps_the_prompt_and_the_partial_reply_and_continue_uses_them(
        home: Home, ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(text=STORY, rate=40))  # 10 s of reply
    process = popen_salon("ask", "--stream", "Tell me a long story")
    try:
        _wait(lambda: (row := _newest_reply(home.data_dir)) and len(row[1].split()) >= 20, "a checkpoint")
    finally:
        process.kill()  # SIGKILL: no handler, no finally, no flush
        process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL

    prompt, reply = home.only_exchange()  # the next start
    assert (prompt.text, reply.status) == ("Tell me a long story", "interrupted")
    assert len(reply.text.split()) >= 20 and STORY.startswith(reply.text)
    shown = salon("history", "show")
    assert reply.text in shown.stdout and "interrupted" in shown.stdout

    ollama_server.script(Scripted(text="The end."))
    done = salon("ask", "--continue", "Finish it")
    assert (done.returncode, done.stdout) == (0, "The end.\n"), done.stderr
    sent = [(m["role"], m["content"]) for m in ollama_server.requests[-1]["messages"] if m["role"] != "system"]
    assert sent == [("user", "Tell me a long story"), ("assistant", reply.text), ("user", "Finish it")]

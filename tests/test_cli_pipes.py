"""Issue 13, item 11: ``salon … | head`` stops quietly, as Unix tools do.

Each command runs in a real shell pipeline into ``head``. When ``head`` has what it wants and exits, Salon must
print no ``BrokenPipeError`` traceback, exit with 141 (128 + SIGPIPE, what a shell reports for ``yes | head``) and
keep what it received: ``salon ask`` stops the reply and stores the text so far, marked interrupted.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from salon.store import Conversation, Store, StoredMessage
from tests.conftest import ROOT, salon_env
from tests.servers.ollama import OllamaServer, Scripted

SALON = f"{sys.executable} -m salon"


def pipeline(command: str, into: str = "head -c 100") -> tuple[int, bytes, str]:
    """``salon COMMAND | INTO`` in bash; returns Salon's exit status, what ``head`` printed, Salon's stderr."""
    script = f'{SALON} {command} 2>"$SALON_ERR" | {into}; echo "rc=${{PIPESTATUS[0]}}" >&2'
    with tempfile.NamedTemporaryFile() as err:
        done = subprocess.run(["bash", "-c", script], capture_output=True, timeout=120, cwd=ROOT,
                              env=salon_env(SALON_ERR=err.name))
        salon_stderr = Path(err.name).read_text(encoding="utf-8", errors="replace")
    status = int(done.stderr.decode().rsplit("rc=", 1)[1])
    return status, done.stdout, salon_stderr


def _message(cid: str, n: int, role: str, text: str) -> StoredMessage:
    answer = role == "assistant"
    return StoredMessage(
        id=f"msg_{n:06d}{role[0]}", conversation_id=cid, role=role, text=text, thinking="",  # type: ignore[arg-type]
        agent_id="assistant" if answer else None, agent_name="Assistant" if answer else None,
        model="ollama/llama3.2" if answer else None, status="complete", input_tokens=None, output_tokens=None,
        usage_estimated=False, time_to_first_token=None, duration=None, tokens_per_second=None, finish_reason=None,
        error=None, created_at=1_700_000_000.0 + n)


def _seed(data_dir, conversations: int, exchanges: int = 1) -> None:
    with Store.open(data_dir) as store:
        store.import_conversations([
            (Conversation(f"conv_{n:06d}", f"Question number {n} " + "about a long subject " * 4, "assistant",
                          1_700_000_000.0 + n, 1_700_000_000.0 + n, 0),
             [_message(f"conv_{n:06d}", n * 10_000 + m, role, f"{role} {m}: " + "a long answer " * 20)
              for m in range(exchanges) for role in ("user", "assistant")])
            for n in range(conversations)])


def test_ask_stream_into_head_stops_quietly_and_keeps_what_arrived(ollama_server: OllamaServer, data_dir):
    ollama_server.script(Scripted(text="word " * 20_000, rate=2000))
    status, shown, stderr = pipeline("ask --stream 'write a lot'")
    assert shown == b"word " * 20
    assert stderr == "", "nothing but the reply: no traceback, no message"
    assert status == 141
    with Store.open(data_dir) as store:
        (conversation,) = store.conversations()
        prompt, reply = store.messages(conversation.id)
    assert prompt.text == "write a lot"
    assert reply.status == "interrupted"
    assert reply.text.startswith("word " * 20) and len(reply.text) < len("word " * 20_000)


def test_ask_into_head_keeps_the_whole_reply(ollama_server: OllamaServer, data_dir):
    text = "line\n" * 40_000  # more than a pipe holds, so the reader is gone before it is all written
    ollama_server.script(Scripted(text=text))
    status, shown, stderr = pipeline("ask 'write a lot'", "head -1")
    assert (shown, stderr, status) == (b"line\n", "", 141)
    with Store.open(data_dir) as store:
        (conversation,) = store.conversations()
        reply = store.messages(conversation.id)[-1]
    assert (reply.status, reply.text) == ("complete", text)


def test_history_list_into_head(data_dir):
    _seed(data_dir, 1500)  # listed, far more than a pipe holds
    status, shown, stderr = pipeline("history list --limit 0", "head -1")
    assert shown.count(b"\n") == 1 and b"Question number 1499" in shown
    assert (stderr, status) == ("", 141)


@pytest.mark.parametrize("command", ["show", "export"])
def test_history_show_and_export_into_head(data_dir, command: str):
    _seed(data_dir, 1, exchanges=1000)  # far more than a pipe holds
    status, shown, stderr = pipeline(f"history {command}", "head")
    assert shown.count(b"\n") == 10
    assert (stderr, status) == ("", 141)


def test_a_reader_that_takes_everything_gets_it_and_salon_exits_0(data_dir):
    _seed(data_dir, 3)
    status, shown, stderr = pipeline("history list", "cat")
    assert shown.count(b"\n") == 3
    assert (stderr, status) == ("", 0)

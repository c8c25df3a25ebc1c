"""``salon ask --stream=true|false``, as the agent documents spell it, beside ``--stream`` / ``--no-stream``.

Each case runs the real ``salon`` command in a subprocess against the Ollama test server, through a pipe: what it
prints must be byte for byte what the server sent, and the server's request log shows what was asked for.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, salon_env
from tests.servers.ollama import OllamaServer, Scripted

# Bytes a terminal would be told to obey: through a pipe they arrive exactly as the model sent them.
PIECES = ["Tab\there, ", "\x1b[31mred\x1b[0m, ", "\u202eevil\u202c, ", "[bold]not markup[/bold]", "\n"]
REPLY = "".join(PIECES)


def ask(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "salon", "ask", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=60, env=salon_env(), cwd=ROOT)


@pytest.mark.parametrize(("flag", "streamed"), [
    ("--stream=true", True), ("--stream", True), ("--stream=TRUE", True), ("--stream=yes", True),
    ("--stream=false", False), ("--no-stream", False), ("--stream=0", False),
])
def test_the_documents_spelling_means_what_the_flags_mean(ollama_server: OllamaServer, data_dir: Path,
                                                          flag: str, streamed: bool) -> None:
    ollama_server.script(Scripted(tokens=PIECES))
    done = ask(flag, "Say something odd.")
    assert done.returncode == 0, done.stderr
    assert done.stdout == REPLY.encode() + b"\n"
    assert done.stderr == b""
    (request,) = ollama_server.requests
    assert request["stream"] is streamed
    assert request["messages"][-1]["content"] == "Say something odd."


@pytest.mark.parametrize("value", ["maybe", "", "treu"])
def test_a_bad_value_is_a_clear_usage_error_and_nothing_is_sent(ollama_server: OllamaServer, data_dir: Path,
                                                                value: str) -> None:
    done = ask(f"--stream={value}", "hi")
    assert done.returncode == 2
    assert done.stdout == b""
    assert f"argument --stream: expected true or false (--stream=true, --stream=false), not {value!r}" \
        in done.stderr.decode()
    assert ollama_server.requests == []


def test_after_a_double_dash_it_is_the_prompt(ollama_server: OllamaServer, data_dir: Path) -> None:
    ollama_server.script(Scripted(text="Noted."))
    done = ask("--", "--stream=maybe")
    assert done.returncode == 0, done.stderr
    assert ollama_server.requests[0]["messages"][-1]["content"] == "--stream=maybe"


def test_a_non_streaming_agent_streams_anyway_when_asked(ollama_server: OllamaServer, config_dir: Path,
                                                          data_dir: Path) -> None:
    agents = config_dir / "agents"
    agents.mkdir()
    (agents / "whole.toml").write_text('name = "Whole"\nmodel = "ollama/llama3.2"\nstream = false\n')
    ollama_server.script(Scripted(tokens=PIECES), Scripted(tokens=PIECES))
    by_default = ask("--agent", "whole", "hi")
    asked = ask("--agent", "whole", "--stream=true", "hi")
    assert by_default.stdout == asked.stdout == REPLY.encode() + b"\n"
    # Salon departs from the documents here: the call's flag wins over the agent's file.
    assert [r["stream"] for r in ollama_server.requests] == [False, True]


def test_help_names_both_spellings_and_the_departure() -> None:
    done = ask("--help")
    text = " ".join(done.stdout.decode().split())
    assert "--stream=true" in text and "--stream=false" in text
    assert "the call's flag wins over the agent's" in text

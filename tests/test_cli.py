"""``salon ask`` and ``salon models`` as a user runs them: a real subprocess against the test server."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import ROOT, run_salon, salon_env
from tests.servers.ollama import Scripted


def test_ask_prints_the_reply(ollama_server):
    ollama_server.script(Scripted(text="What, then, is virtue to you?"))
    result = run_salon("ask", "--agent", "socrates", "What is virtue?")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "What, then, is virtue to you?\n"
    assert result.stderr == ""
    assert ollama_server.requests[0]["messages"][-1]["content"] == "What is virtue?"


def test_ask_reads_the_prompt_from_stdin(ollama_server):
    result = run_salon("ask", input="Summarise this file.\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "You said: Summarise this file.\n"


def test_multi_step_agent_prints_each_message_under_its_persona(ollama_server):
    ollama_server.script(Scripted(text="Is it?"), Scripted(text="It is."))
    result = run_salon("ask", "-a", "socrates-then-plato", "Is the soul immortal?")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "## Socrates\n\nIs it?\n\n## Plato\n\nIt is.\n"


def test_stream_prints_text_while_the_server_is_still_sending(ollama_server):
    words = [f"w{i} " for i in range(40)]
    # The server holds its final line until the first words are read: printed while it is still sending, on any
    # machine, however loaded.
    release = threading.Event()
    ollama_server.script(Scripted(tokens=words, rate=20, hold_final=release))
    process = subprocess.Popen([sys.executable, "-m", "salon", "ask", "--stream", "Count."],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=salon_env(), cwd=ROOT)
    try:
        first = process.stdout.read(3)
        assert first == b"w0 " and not ollama_server.state.finished_at, "printed before the server finished"
    finally:
        release.set()
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert (first + rest).decode() == "".join(words) + "\n"


def test_usage_goes_to_stderr_and_the_reply_alone_to_stdout(ollama_server):
    ollama_server.script(Scripted(text="Brief."))
    result = run_salon("ask", "--usage", "hi")
    assert result.stdout == "Brief.\n"
    assert "[Assistant · ollama/llama3.2 · 26 in / 1 out" in result.stderr


def test_server_down_exits_fast_with_one_line_naming_the_host():
    # How long it takes to give up is a figure (bench/responsiveness.py); here: it gives up, once, and says where.
    result = run_salon("ask", "--agent", "socrates", "What is virtue?", OLLAMA_HOST="127.0.0.1:9")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "http://127.0.0.1:9" in result.stderr and "ollama serve" in result.stderr


def test_missing_model_tells_how_to_pull_it(ollama_server):
    result = run_salon("ask", "--model", "ollama/gemma3", "hi")
    assert result.returncode == 1
    assert "`ollama pull gemma3`" in result.stderr


def test_unknown_agent_is_an_error_naming_the_known_ones(ollama_server):
    result = run_salon("ask", "--agent", "nobody", "hi")
    assert result.returncode == 1
    assert "no agent named 'nobody'" in result.stderr and "socrates" in result.stderr


def test_failure_mid_stream_prints_the_partial_reply_and_exits_non_zero(ollama_server):
    ollama_server.script(Scripted(text="one two three four", error_after=2, error="out of memory"))
    result = run_salon("ask", "hi")
    assert result.returncode == 1
    assert result.stdout == "one two\n"
    assert "out of memory" in result.stderr


def test_ctrl_c_prints_the_partial_text_and_exits_130(ollama_server):
    ollama_server.script(Scripted(tokens=[f"w{i} " for i in range(400)], rate=40))
    process = subprocess.Popen([sys.executable, "-m", "salon", "ask", "--stream", "Go on."],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=salon_env(), cwd=ROOT)
    seen = process.stdout.read(12)
    process.send_signal(signal.SIGINT)
    rest, err = process.communicate(timeout=10)
    assert process.returncode == 130
    text = (seen + rest).decode()
    assert text.startswith("w0 w1 w2 ") and text.endswith("\n")
    assert len(text.split()) < 400
    assert "interrupted" in err.decode()


def _checkpointed(data_dir: Path) -> str:
    """The text of the reply being streamed, as its latest checkpoint left it in the database."""
    path = data_dir / "salon.db"
    if not path.exists():
        return ""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT text FROM messages WHERE role = 'assistant' AND status = 'streaming'").fetchone()
    except sqlite3.OperationalError:
        return ""  # not created yet
    finally:
        conn.close()
    return row[0] if row and row[0] else ""


def test_ctrl_c_without_stream_still_prints_what_arrived(ollama_server, data_dir):
    ollama_server.script(Scripted(tokens=[f"w{i} " for i in range(400)], rate=40))
    process = subprocess.Popen([sys.executable, "-m", "salon", "ask", "Go on."],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=salon_env(), cwd=ROOT)
    # Words have arrived once a checkpoint of the reply holds some (nothing is printed before the end).
    deadline = time.monotonic() + 60
    while len(_checkpointed(data_dir).split()) < 2:
        assert time.monotonic() < deadline, "no checkpoint of the reply"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=10)
    assert process.returncode == 130
    assert out.decode().startswith("w0 w1 ")


def test_models_lists_the_hosts_models(ollama_server):
    result = run_salon("models")
    assert result.returncode == 0
    assert result.stdout.splitlines()[0].startswith("ollama/llama3.2:latest")
    assert "3.2B Q4_K_M" in result.stdout


def test_version_and_help():
    assert run_salon("--version").stdout.startswith("salon ")
    help_text = run_salon("--help").stdout
    for command in ("ask", "agents", "models"):
        assert command in help_text


def test_prompt_argument_and_piped_input_make_one_prompt(ollama_server):
    result = run_salon("ask", "Review this change", input="- old\n+ new\n")
    assert result.returncode == 0, result.stderr
    assert ollama_server.requests[0]["messages"][-1]["content"] == "Review this change\n\n- old\n+ new"


def test_empty_piped_input_and_no_argument_is_a_clear_error(ollama_server):
    result = run_salon("ask", input="")
    assert result.returncode == 1
    assert "prompt" in result.stderr and ollama_server.requests == []


def test_an_empty_prompt_argument_is_called_empty_not_blamed_on_standard_input(ollama_server):
    result = run_salon("ask", "", input="")
    assert result.returncode == 1
    assert "the prompt is empty" in result.stderr
    assert "standard input" not in result.stderr and ollama_server.requests == []


def test_help_says_models_lists_cloud_models_too():
    result = run_salon("--help")
    line = next(line for line in result.stdout.splitlines() if line.strip().startswith("models"))
    assert "Ollama" in line and "cloud" in line


def test_models_adds_the_cloud_models_named_in_config(ollama_server, config_dir):
    (config_dir / "config.toml").write_text('[providers.openai]\nmodels = ["gpt-4o-mini"]\n')
    result = run_salon("models")
    assert result.returncode == 0, result.stderr
    refs = [line.split()[0] for line in result.stdout.splitlines()]
    assert refs == ["ollama/llama3.2:latest", "ollama/qwen3:latest", "openai/gpt-4o-mini"]


def test_models_with_ollama_down_says_so_and_fails():
    result = run_salon("models", OLLAMA_HOST="127.0.0.1:9")
    assert result.returncode == 1
    assert "cannot reach Ollama at http://127.0.0.1:9" in result.stderr

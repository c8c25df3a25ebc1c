"""``salon ask`` with an agent that uses tools: asks on a terminal, refuses on a pipe unless told, shows rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from salon.config.read import load_config
from salon.store import Store
from tests.conftest import run_salon
from tests.hostile import ESCAPES, MARKUP, pty_forbidden
from tests.servers.ollama import Scripted
from tests.tools.conftest import calls_made, lab_server, time_server, write_agent
from tests.tools.tty import converse

TOKYO = {"timezone": "Asia/Tokyo"}


@pytest.fixture
def clock_setup(config_dir, ollama_server, lab_log):
    """The user's config naming the real time server and the lab server; agents that use them."""
    ollama_server.add_model("qwen3", "completion", "tools")
    (config_dir / "config.toml").write_text(time_server() + "\n" + lab_server(lab_log), encoding="utf-8")
    agents = config_dir / "agents"
    agents.mkdir()
    write_agent(agents, "clock", "ollama/qwen3", ["time.*"])
    write_agent(agents, "labbie", "ollama/qwen3", ["lab.*"])
    return config_dir / "config.toml"


def script_tokyo(server):
    server.script(Scripted(text="Let me check.", tool_calls=[{"name": "get_current_time", "arguments": TOKYO}]),
                  Scripted(text="It is evening in Tokyo."))


def test_on_a_pipe_a_tool_call_is_refused_naming_the_options(clock_setup, ollama_server, data_dir):
    script_tokyo(ollama_server)
    done = run_salon("ask", "--agent", "clock", "What time is it in Tokyo?", timeout=90)
    assert done.returncode == 1
    assert "Clock wants to run the tool time.get_current_time" in done.stderr
    assert "--allow-tool time.get_current_time" in done.stderr and "--deny-tools" in done.stderr
    assert "Let me check." in done.stdout
    assert len(ollama_server.requests) == 1
    # Nothing is lost: the prompt and the text before the call are kept.
    with Store.open(data_dir) as store:
        [conversation] = store.conversations()
        texts = [m.text for m in store.messages(conversation.id)]
    assert texts[:2] == ["What time is it in Tokyo?", "Let me check."]


def test_allow_tool_runs_the_real_time_server_and_answers(clock_setup, ollama_server):
    script_tokyo(ollama_server)
    done = run_salon("ask", "--agent", "clock", "--allow-tool", "time.*", "What time is it in Tokyo?", timeout=90)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Let me check.\nIt is evening in Tokyo.\n"
    assert 'salon: tool time.get_current_time {"timezone": "Asia/Tokyo"}' in done.stderr
    assert "salon: tool time.get_current_time done" in done.stderr
    told = ollama_server.requests[1]["messages"][-1]
    assert told["role"] == "tool" and json.loads(told["content"])["timezone"] == "Asia/Tokyo"


def test_deny_tools_answers_without_running_anything(clock_setup, ollama_server, lab_log):
    ollama_server.script(Scripted(text="", tool_calls=[{"name": "echo", "arguments": {"text": "x"}}]),
                         Scripted(text="Fine, without it."))
    done = run_salon("ask", "--agent", "labbie", "--deny-tools", "Go.", timeout=90)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("Fine, without it.\n")
    assert "salon: tool lab.echo denied, not run" in done.stderr
    assert calls_made(lab_log) == []


def test_on_a_terminal_the_question_shows_tool_server_and_arguments_and_once_runs_it(clock_setup, ollama_server):
    script_tokyo(ollama_server)
    code, shown = converse(["ask", "--agent", "clock", "What time is it in Tokyo?"], {"Allow it?": "o\n"})
    assert code == 0, shown
    assert "Clock wants to run a tool" in shown
    assert "tool       get_current_time" in shown
    assert "server     time (" in shown and "mcp_server_time --local-timezone UTC" in shown
    assert 'arguments  {"timezone": "Asia/Tokyo"}' in shown
    assert "It is evening in Tokyo." in shown
    assert load_config(clock_setup).approvals == {}


def test_on_a_terminal_always_is_remembered_and_not_asked_again(clock_setup, ollama_server):
    script_tokyo(ollama_server)
    code, shown = converse(["ask", "--agent", "clock", "What time is it in Tokyo?"], {"Allow it?": "a\n"})
    assert code == 0, shown
    assert load_config(clock_setup).approvals["clock"] == {"time.get_current_time": "always"}
    script_tokyo(ollama_server)
    code, shown = converse(["ask", "--agent", "clock", "And now?"], {})
    assert code == 0, shown
    assert "Allow it?" not in shown and "It is evening in Tokyo." in shown


def test_the_question_shows_hostile_arguments_inert(clock_setup, ollama_server, lab_log):
    hostile = "".join((*ESCAPES.values(), *MARKUP.values()))
    ollama_server.script(Scripted(text="", tool_calls=[{"name": "echo", "arguments": {"text": hostile}}]),
                         Scripted(text="ok"))
    code, shown = converse(["ask", "--agent", "labbie", "Go."], {"Allow it?": "d\n"})
    assert code == 0, shown
    question = shown[shown.index("wants to run a tool"):shown.index("Allow it?")]
    assert pty_forbidden(question) == []
    assert "\\u{009b}" in question and "\\u{202e}" in question  # shown, made visible
    assert calls_made(lab_log) == []


def test_allow_tool_through_litellm_answers_with_the_real_time_server(config_dir, openai_server):
    from tests.servers.openai import Scripted as OpenAIScripted

    (config_dir / "config.toml").write_text(
        f'[providers.local]\napi_base = "{openai_server.api_base}"\n\n' + time_server(), encoding="utf-8")
    agents = config_dir / "agents"
    agents.mkdir()
    write_agent(agents, "clock", "local/gpt-4o-mini", ["time.*"])
    openai_server.script(
        OpenAIScripted(text="Checking.", tool_calls=[{"name": "get_current_time", "arguments": json.dumps(TOKYO)}]),
        OpenAIScripted(text="Evening in Tokyo."))
    done = run_salon("ask", "--agent", "clock", "--allow-tool", "time.get_current_time", "Time in Tokyo?",
                     timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Checking.\nEvening in Tokyo.\n"
    assert 'salon: tool time.get_current_time {"timezone": "Asia/Tokyo"}' in done.stderr
    told = openai_server.chat_requests[1].body["messages"][-1]
    assert told["role"] == "tool" and json.loads(told["content"])["timezone"] == "Asia/Tokyo"


def test_the_bundled_clock_agent_with_the_readme_config_answers_after_approval(config_dir, ollama_server):
    # The README's snippet, with this interpreter as "python"; the bundled agent as shipped.
    ollama_server.add_model("llama3.2", "completion", "tools")
    (config_dir / "config.toml").write_text(time_server(), encoding="utf-8")
    script_tokyo(ollama_server)
    code, shown = converse(["ask", "--agent", "clock", "What time is it in Tokyo?"], {"Allow it?": "o\n"})
    assert code == 0, shown
    assert shown.index("tool       get_current_time") < shown.index("It is evening in Tokyo.")
    first = ollama_server.requests[0]
    assert first["model"] == "llama3.2"
    assert sorted(t["function"]["name"] for t in first["tools"]) == ["convert_time", "get_current_time"]


def _a_python_without_the_server(folder) -> str:
    """A ``python`` first on PATH that is not Salon's: this interpreter with its site-packages cut off, as the
    system Python is for a server installed into Salon's venv."""
    folder.mkdir()
    shim = folder / "python"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -I -S "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    (folder / "python3").symlink_to(shim)
    check = subprocess.run([str(shim), "-c", "import mcp_server_time"], capture_output=True, text=True)
    assert "No module named 'mcp_server_time'" in check.stderr, "the stand-in must lack the server"
    return f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"


@pytest.mark.parametrize("python", ["python", "python3"])
def test_the_readme_config_finds_the_server_installed_beside_salon_whatever_python_path_finds(
        config_dir, ollama_server, tmp_path, python):
    # `.venv/bin/salon` run without activating the venv: PATH's python is another one, without mcp-server-time.
    path = _a_python_without_the_server(tmp_path / "bin")
    ollama_server.add_model("llama3.2", "completion", "tools")
    (config_dir / "config.toml").write_text(f'[mcp_servers.time]\ncommand = "{python}"\n'
                                            'args = ["-m", "mcp_server_time", "--local-timezone", "UTC"]\n',
                                            encoding="utf-8")
    script_tokyo(ollama_server)
    done = run_salon("ask", "--agent", "clock", "--allow-tool", "time.*", "What time is it in Tokyo?", timeout=90,
                     PATH=path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Let me check.\nIt is evening in Tokyo.\n"
    assert json.loads(ollama_server.requests[1]["messages"][-1]["content"])["timezone"] == "Asia/Tokyo"


def test_a_server_that_will_not_start_is_a_warning_naming_the_likely_cause_and_the_answer_comes(
        config_dir, ollama_server, tmp_path):
    # A server installed into one Python, started with another: "No module named …" is named as the cause.
    _a_python_without_the_server(tmp_path / "bin")
    shim = tmp_path / "bin" / "python"
    ollama_server.add_model("llama3.2", "completion", "tools")
    (config_dir / "config.toml").write_text(f'[mcp_servers.time]\ncommand = "{shim}"\n'
                                            'args = ["-m", "mcp_server_time", "--local-timezone", "UTC"]\n',
                                            encoding="utf-8")
    ollama_server.script(Scripted(text="I cannot reach a clock right now."))
    done = run_salon("ask", "--agent", "clock", "What time is it in Tokyo?", timeout=90)
    assert (done.returncode, done.stdout) == (0, "I cannot reach a clock right now.\n"), done.stderr
    assert done.stderr.startswith("salon: warning: the tools of MCP server 'time' are not available for this "
                                  "reply: MCP server 'time'")
    assert "No module named mcp_server_time" in done.stderr
    assert f"Likely cause: '{shim}' has no module 'mcp_server_time'" in done.stderr
    assert f"`{shim} -m pip install …`" in done.stderr
    assert "'time' could not be started" in ollama_server.requests[0]["messages"][0]["content"]

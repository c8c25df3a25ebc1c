"""Offline proven: inside a network namespace whose only interface is loopback, Salon answers from the loopback
test servers and tries to reach nothing else: no update check, no price list, no tokenizer download, no telemetry.

A driver script runs under ``unshare -n`` (no network at all but ``lo``): it starts the Ollama and OpenAI-compatible
test servers there, then runs the real ``salon`` with ``audit/sitecustomize.py`` on its PYTHONPATH, whose audit hook
logs every address any Salon process tries to look up, connect or send to, before the attempt is made. The
namespace makes a stray contact fail fast instead of reaching the internet; the log makes it visible.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.faults.conftest import (
    AUDIT_DIR,
    ENV_KEY,
    assert_no_planted,
    beyond_loopback,
    contacts,
    require_namespaces,
    salon_process_env,
)

TUI_STARTUP = """
import asyncio
from salon.tui.app import SalonApp

async def main():
    app = SalonApp(show_conversations=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        chat = app.chat_screen
        availability = chat.availability
        print(availability.connection, " ".join(m.ref for m in availability.models or ()))

asyncio.run(main())
"""

DRIVER = '''
import json, os, subprocess, sys
from pathlib import Path

subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
from tests.servers.ollama import OllamaServer, Scripted
from tests.servers.openai import OpenAIServer, Scripted as CloudScripted

work, audit_dir, tui_startup = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
results = {"links": subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout}


def audited(name, *command, **env):
    log = work / f"{name}.jsonl"
    environment = {**os.environ, **env, "SALON_AUDIT_LOG": str(log),
                   "PYTHONPATH": os.pathsep.join([audit_dir, os.environ["PYTHONPATH"]])}
    done = subprocess.run([sys.executable, *command], capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL, env=environment, cwd=work)
    results[name] = {"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr, "log": str(log)}


with OllamaServer() as ollama, OpenAIServer(api_key=os.environ["OPENAI_API_KEY"]) as cloud:
    results["ports"] = [ollama.port, cloud.port]
    ollama.script(Scripted(text="A local answer."))
    cloud.script(CloudScripted(text="A cloud answer."))
    config = Path(os.environ["SALON_CONFIG_DIR"]) / "config.toml"
    config.write_text(config.read_text() + f"""
[providers.openai]
api_base = "{cloud.api_base}"
""")
    audited("ollama", "-m", "salon", "ask", "What is virtue?", OLLAMA_HOST=ollama.host)
    audited("cloud", "-m", "salon", "ask", "--usage", "--model", "openai/gpt-4o-mini", "What is virtue?",
            OLLAMA_HOST=ollama.host)
    # The chat app's start-up, headless, through its first frame and the model listing that follows it.
    audited("tui", "-c", tui_startup, OLLAMA_HOST=ollama.host)
    # The control: the hook is live in here, and sees what a stray update check would try.
    audited("control", "-c", "import socket\\n"
            "for target in ('updates.salon.invalid', '192.0.2.7'):\\n"
            "    try: socket.create_connection((target, 443), timeout=2)\\n"
            "    except OSError: pass")
    results["served"] = {"ollama": len(ollama.requests), "cloud": len(cloud.chat_requests)}
print(json.dumps(results))
'''


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run the driver once for the module: each test reads its part of what happened."""
    require_namespaces("-n")
    work = tmp_path_factory.mktemp("offline")
    (work / "config").mkdir()
    (work / "data").mkdir()
    (work / "config" / "config.toml").write_text(
        '[providers.corp]\napi_base = "http://127.0.0.1:9/v1"\napi_key_env = "SALON_FAULTS_LLM_VAR"\n')
    # Where a price list or a .env file would come from if litellm were left in its default mode.
    (work / ".env").write_text("OPENAI_API_KEY=sk-from-a-dotenv-file\n")
    env = salon_process_env(SALON_CONFIG_DIR=str(work / "config"), SALON_DATA_DIR=str(work / "data"),
                            TEXTUAL_ANIMATIONS="none")
    for name in ("LITELLM_MODE", "LITELLM_LOCAL_MODEL_COST_MAP", "LITELLM_LOG", "OLLAMA_HOST"):
        env.pop(name, None)
    done = subprocess.run(["unshare", "-n", sys.executable, "-c", textwrap.dedent(DRIVER), str(work),
                           str(AUDIT_DIR), TUI_STARTUP], capture_output=True, text=True, timeout=290, env=env, cwd=ROOT)
    assert done.returncode == 0, f"the driver inside the network namespace failed:\n{done.stderr[-3000:]}"
    results = json.loads(done.stdout.splitlines()[-1])
    results["work"] = str(work)
    return results


def _loopback_only(results: dict, name: str) -> list[dict]:
    run = results[name]
    assert_no_planted(run["stdout"], run["stderr"])
    logged = contacts(Path(run["log"]))
    assert beyond_loopback(logged) == [], f"{name} tried to reach beyond loopback"
    return logged


def test_the_namespace_has_no_network_but_loopback(offline_run: dict) -> None:
    links = [line.split(":")[1].strip() for line in offline_run["links"].splitlines()]
    assert links == ["lo"]


def test_the_audit_hook_sees_a_contact_beyond_loopback_inside_the_namespace(offline_run: dict) -> None:
    # The control that lets the tests below fail: a name lookup and a remote address both show up.
    logged = contacts(Path(offline_run["control"]["log"]))
    seen = {(c["event"], c["host"]) for c in beyond_loopback(logged)}
    assert ("socket.getaddrinfo", "updates.salon.invalid") in seen
    assert ("socket.connect", "192.0.2.7") in seen


def test_salon_ask_against_loopback_ollama_reaches_nothing_else(offline_run: dict) -> None:
    run = offline_run["ollama"]
    assert (run["rc"], run["stdout"], run["stderr"]) == (0, "A local answer.\n", "")
    logged = _loopback_only(offline_run, "ollama")
    ollama_port = offline_run["ports"][0]
    assert {(c["host"], c["port"]) for c in logged if c["event"] == "socket.connect"} == {("127.0.0.1",
                                                                                           ollama_port)}
    assert offline_run["served"]["ollama"] == 1


def test_a_cloud_call_through_litellm_reaches_only_the_loopback_server(offline_run: dict) -> None:
    run = offline_run["cloud"]
    assert (run["rc"], run["stdout"]) == (0, "A cloud answer.\n"), run["stderr"]
    (usage,) = run["stderr"].splitlines()  # nothing of litellm's on the screen: only Salon's usage line
    assert usage.startswith("[Assistant · openai/gpt-4o-mini · 26 in / 3 out")
    logged = _loopback_only(offline_run, "cloud")
    cloud_port = offline_run["ports"][1]
    assert {(c["host"], c["port"]) for c in logged if c["event"] == "socket.connect"} == {("127.0.0.1", cloud_port)}
    assert offline_run["served"]["cloud"] == 1


def test_the_chat_app_starting_up_reaches_only_the_loopback_ollama_server(offline_run: dict) -> None:
    run = offline_run["tui"]
    assert run["rc"] == 0, run["stderr"][-2000:]
    # It drew its first frame, then listed the models of the loopback host.
    assert run["stdout"].split() == ["up", "ollama/llama3.2:latest", "ollama/qwen3:latest"]
    logged = _loopback_only(offline_run, "tui")
    ollama_port = offline_run["ports"][0]
    assert {(c["host"], c["port"]) for c in logged if c["event"] == "socket.connect"} == {("127.0.0.1",
                                                                                           ollama_port)}


def test_nothing_of_the_offline_runs_kept_a_planted_key(offline_run: dict) -> None:
    work = Path(offline_run["work"])
    for path in (work / "data").rglob("*"):
        if path.is_file():
            assert b"PLANTED" not in path.read_bytes(), path
    assert ENV_KEY not in (work / "config" / "config.toml").read_text()

"""The streaming guides' snippets, as docs/api.md shows them (only their imports changed), run against Salon.

Each runnable block of docs/api.md starts with a ``# name`` comment. It is written to a file and run with the
real interpreter in a subprocess: the guides' ``gpt-4o-mini`` through real litellm to the OpenAI test server (set
as ``[providers.openai] api_base`` in config.toml), Salon's own agents through the real ``ollama`` client to the
Ollama test server. What the script prints and what the servers received are checked.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, salon_env
from tests.servers.ollama import OllamaServer
from tests.servers.ollama import Scripted as OllamaScripted
from tests.servers.openai import OpenAIServer, Scripted

BLOCK = re.compile(r"^```python\n# (?P<name>[^\n]+)\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)
SNIPPETS = {m["name"]: m["code"] for m in BLOCK.finditer((ROOT / "docs" / "api.md").read_text(encoding="utf-8"))}
JOKE = ["Why ", "did ", "the ", "owl ", "stay ", "in?"]


def test_the_doc_holds_every_snippet_this_file_runs() -> None:
    assert set(SNIPPETS) == {"quick start", "collect", "provider check", "error handling", "parameters", "steps",
                             "sync"}
    for code in SNIPPETS.values():
        imports = [line for line in code.splitlines() if line.startswith(("import ", "from "))]
        assert all(re.match(r"(from salon(\.streaming)? import|import (salon|asyncio)$)", line) for line in imports)


def run_snippet(name: str, tmp_path: Path) -> str:
    script = tmp_path / f"{name.replace(' ', '_')}.py"
    script.write_text(SNIPPETS[name], encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env=salon_env(OPENAI_API_KEY="sk-test-key"), stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def cloud(openai_server: OpenAIServer, config_dir: Path) -> OpenAIServer:
    (config_dir / "config.toml").write_text(f'[providers.openai]\napi_base = "{openai_server.api_base}"\n')
    return openai_server


def test_quick_start(cloud: OpenAIServer, tmp_path: Path) -> None:
    cloud.script(Scripted(tokens=JOKE))
    assert run_snippet("quick start", tmp_path) == "".join(JOKE)
    (request,) = cloud.chat_requests
    assert request.body["model"] == "gpt-4o-mini" and request.body["stream"] is True
    assert request.body["messages"][-1] == {"role": "user", "content": "Tell me a joke"}


def test_collecting_the_complete_response(cloud: OpenAIServer, tmp_path: Path) -> None:
    facts = ["Owls ", "turn ", "their ", "heads; ", "bats ", "see ", "by ", "ear."]
    cloud.script(Scripted(tokens=facts))
    lines = run_snippet("collect", tmp_path).splitlines()
    assert lines[0] == f"Complete: {''.join(facts)}"
    assert re.fullmatch(r"Duration: \d+\.\d\ds", lines[1])
    assert lines[2] == f"Chunks: {len(facts)}"


def test_checking_provider_support(cloud: OpenAIServer, tmp_path: Path) -> None:
    cloud.script(Scripted(tokens=JOKE))
    assert run_snippet("provider check", tmp_path) == "".join(JOKE)
    assert cloud.chat_requests[0].body["stream"] is True


def test_checking_provider_support_falls_back_where_the_server_cannot_stream(
        openai_server: OpenAIServer, config_dir: Path, tmp_path: Path) -> None:
    (config_dir / "config.toml").write_text(
        f'[providers.openai]\napi_base = "{openai_server.api_base}"\nstream = false\n')
    openai_server.script(Scripted(tokens=JOKE))
    assert run_snippet("provider check", tmp_path) == "".join(JOKE) + "\n"
    assert not openai_server.chat_requests[0].body.get("stream")


def test_error_handling_keeps_the_partial_response(cloud: OpenAIServer, tmp_path: Path) -> None:
    cloud.script(Scripted(tokens=["An ", "essay ", "on ", "virtue"], cut_after=2))
    out = run_snippet("error handling", tmp_path)
    assert out.startswith("An essay Interrupted: ")
    assert "cut mid-reply" in out
    assert out.endswith("\nPartial: An essay \n")


def test_parameters_reach_the_server_and_usage_is_the_servers(cloud: OpenAIServer, tmp_path: Path) -> None:
    cloud.script(Scripted(tokens=["Old ", "pond"], prompt_tokens=17))
    out = run_snippet("parameters", tmp_path)
    assert out == "Old pondTokens: Usage(input_tokens=17, output_tokens=2, estimated=False)\n"
    body = cloud.chat_requests[0].body
    assert body["temperature"] == 0.9 and body["max_tokens"] == 50


def test_socrates_then_plato_stream_in_steps(ollama_server: OllamaServer, tmp_path: Path) -> None:
    ollama_server.script(OllamaScripted(tokens=["What ", "is it?"]), OllamaScripted(tokens=["The ", "Form."]))
    assert run_snippet("steps", tmp_path).splitlines() == [
        "[0 Socrates] What ", "[0 Socrates] is it?", "[1 Plato] The ", "[1 Plato] Form.", "done"]


def test_the_sync_flavour(ollama_server: OllamaServer, tmp_path: Path) -> None:
    ollama_server.script(OllamaScripted(tokens=["Know ", "thyself."]))
    assert run_snippet("sync", tmp_path) == "Know thyself.\n"
    assert ollama_server.requests[0]["options"]["temperature"] == 0.2

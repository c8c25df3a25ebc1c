"""Fixtures for tool runs: the user's config naming real MCP servers, agents that use them, a session on both."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from salon.agents.definition import load_agents
from salon.api import Session
from salon.config.read import load_config
from tests.conftest import ROOT

LAB = ROOT / "tests" / "servers" / "mcp_tools.py"


def toml_list(items: list[str]) -> str:
    return json.dumps(items)


def lab_server(log: Path, *extra: str, name: str = "lab", timeout: float = 20, approve: str = "ask") -> str:
    """A ``[mcp_servers.NAME]`` table running the lab server with this Python."""
    args = [str(LAB), "--log", str(log), *extra]
    return (f"[mcp_servers.{name}]\ncommand = {json.dumps(sys.executable)}\nargs = {toml_list(args)}\n"
            f"timeout = {timeout}\napprove = \"{approve}\"\n")


def time_server() -> str:
    """The real published ``mcp-server-time`` from PyPI."""
    return (f"[mcp_servers.time]\ncommand = {json.dumps(sys.executable)}\n"
            'args = ["-m", "mcp_server_time", "--local-timezone", "UTC"]\n')


@pytest.fixture
def lab_log(tmp_path: Path) -> Path:
    return tmp_path / "lab-calls.log"


def calls_made(log: Path) -> list[str]:
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


@pytest.fixture
def agents_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "agents"
    folder.mkdir()
    return folder


def write_agent(folder: Path, agent_id: str, model: str, tools: list[str], extra: str = "") -> None:
    (folder / f"{agent_id}.toml").write_text(
        f'name = "{agent_id.title()}"\nmodel = "{model}"\ntools = {toml_list(tools)}\n{extra}', encoding="utf-8")


def write_config(config_dir: Path, ollama_host: str, *tables: str) -> Path:
    path = config_dir / "config.toml"
    path.write_text(f'[ollama]\nhost = "{ollama_host}"\nread_timeout = 20\n\n' + "\n".join(tables),
                    encoding="utf-8")
    return path


def open_session(config_path: Path, agents: Path) -> Session:
    config = load_config(config_path)
    assert not config.warnings, config.warnings
    return Session(config, load_agents([agents]))

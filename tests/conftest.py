"""Fixtures shared by the whole suite: isolated folders, the Ollama test server, a Salon session on it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from salon.config.read import Config
from tests.servers.ollama import OllamaServer
from tests.servers.openai import OpenAIServer

ROOT = Path(__file__).resolve().parents[1]

# Variables that would let a test reach a real server or a real account.
_LEAKY_ENV = ("OLLAMA_HOST", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GROQ_API_KEY",
              "OPENROUTER_API_KEY", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own config and data folders and no ambient hosts or keys."""
    config_dir = tmp_path / "config"
    data_dir = tmp_path / "data"
    config_dir.mkdir()
    data_dir.mkdir()
    monkeypatch.setenv("SALON_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("SALON_DATA_DIR", str(data_dir))
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    # Never the developer's own Ollama store: gguf/NAME would find the models pulled there.
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "ollama-store"))
    for name in _LEAKY_ENV:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def config_dir(isolated_home: Path) -> Path:
    return isolated_home / "config"


@pytest.fixture
def data_dir(isolated_home: Path) -> Path:
    return isolated_home / "data"


@pytest.fixture
def ollama_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[OllamaServer]:
    """A live Ollama-speaking server on a random loopback port, named by ``OLLAMA_HOST``."""
    with OllamaServer() as server:
        monkeypatch.setenv("OLLAMA_HOST", server.host)
        yield server


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    """A live server speaking OpenAI's chat API on a random loopback port (``server.api_base`` for config)."""
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def config(ollama_server: OllamaServer) -> Config:
    return Config(ollama_host=ollama_server.host, read_timeout=5.0)


def salon_env(**extra: str) -> dict[str, str]:
    """The environment for a ``salon`` subprocess: this test's folders and host, nothing of the developer's."""
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY_ENV or k == "OLLAMA_HOST"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "app"), str(ROOT)])
    env.update(extra)
    return env


def run_salon(*args: str, input: str | None = None, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """Run the real ``salon`` command line in a subprocess and capture what it prints."""
    stdin = None if input is not None else subprocess.DEVNULL
    return subprocess.run([sys.executable, "-m", "salon", *args], input=input, stdin=stdin, capture_output=True,
                          text=True, timeout=timeout, env=salon_env(**env), cwd=ROOT)


# -- what must share one worker under pytest-xdist --------------------------------------------------------------

# The suite runs across processes (``-n``, ``--dist loadgroup`` in pyproject.toml). Everything else is isolated per
# test (its own folders, tmux server, loopback ports from the OS, database); what is here shares something with its
# neighbours, so its tests go to one worker, in order, and never run beside each other.
XDIST_GROUPS: dict[str, tuple[str, str]] = {
    # path prefix under tests/: (group, what is shared)
    "tui/test_snapshots": ("snapshot-port", "the fixed port the pictures show (SNAPSHOT_PORT): one holder at a time"),
    "serve/test_page.py": ("browser", "one Chromium (a module fixture) for every page test, not one per worker"),
    "test_packaging.py": ("packaging", "the wheel, sdist and fresh venv built once (module fixtures), not per worker"),
    "faults/test_offline.py": ("offline", "its module fixture, built once"),
    "gguf/": ("model", "the real model: one generating at a time, or two fight for the cores past their limits"),
}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = Path(__file__).resolve().parent
    for item in items:
        where = item.path.resolve().relative_to(tests).as_posix()
        for prefix, (group, _why) in XDIST_GROUPS.items():
            if where.startswith(prefix):
                item.add_marker(pytest.mark.xdist_group(group))


# -- a port nothing answers on -----------------------------------------------------------------------------------


@dataclass
class ClosedPort:
    """A loopback port held bound but never listening: connections are refused, and no other process (tests run
    side by side on shared machines) can start a server on it until :meth:`release`."""

    socket: socket.socket

    @property
    def port(self) -> int:
        return self.socket.getsockname()[1]

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def release(self) -> int:
        """Free the port, for a server about to start on it; returns the port."""
        port = self.port
        self.socket.close()
        return port


@pytest.fixture
def closed_port() -> Iterator[ClosedPort]:
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    try:
        yield ClosedPort(held)
    finally:
        held.close()


@pytest.fixture(scope="session")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real GGUF test model (Gemma 3 270M, 253 MB; tests/gguf/model.py), assembled once per session."""
    from tests.gguf.model import assemble

    return assemble(tmp_path_factory.mktemp("model"))

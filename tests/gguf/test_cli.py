"""``salon ask -m gguf/…`` and ``salon models`` as a user runs them: real subprocesses on the real test model."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import run_salon
from tests.gguf.test_files import ollama_store

GGUF_TIMEOUT = 240  # a cold start on a loaded 2-core machine: import, load, a few tokens


def test_ask_streams_a_real_models_reply_and_keeps_it_whole(engine_ready, models_dir: Path, data_dir: Path,
                                                            local_agent: str) -> None:
    result = run_salon("ask", "-a", local_agent, "-m", "gguf/gemma3", "--stream", "--usage", "Say hello",
                       timeout=GGUF_TIMEOUT)

    assert result.returncode == 0, result.stderr
    reply = result.stdout.removesuffix("\n")
    assert reply.strip()
    # --usage: llama.cpp's counts, never marked estimated.
    usage = result.stderr.strip().splitlines()[-1]
    assert " in / " in usage and " out" in usage and "estimated" not in usage
    with sqlite3.connect(data_dir / "salon.db") as db:
        stored = db.execute("SELECT text, status, model, input_tokens, output_tokens FROM messages "
                            "WHERE role = 'assistant'").fetchall()
    assert len(stored) == 1
    text, status, model, tokens_in, tokens_out = stored[0]
    assert (text, status, model) == (reply, "complete", "gguf/gemma3")
    assert f"{tokens_in} in / {tokens_out} out" in usage


def test_ask_runs_a_file_by_its_path(engine_ready, model_file: Path, local_agent: str) -> None:
    result = run_salon("ask", "-a", local_agent, "-m", f"gguf/{model_file}", "Say hello", timeout=GGUF_TIMEOUT)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_ask_runs_a_model_ollama_pulled_with_no_ollama_server(engine_ready, model_file: Path, tmp_path: Path,
                                                              local_agent: str) -> None:
    store = ollama_store(tmp_path / "ollama-models", model_file)

    # OLLAMA_HOST points at nothing: no server is asked for anything.
    result = run_salon("ask", "-a", local_agent, "-m", "gguf/llama3.2", "Say hello", timeout=GGUF_TIMEOUT,
                       OLLAMA_MODELS=str(store), OLLAMA_HOST="127.0.0.1:9")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_models_lists_gguf_files_with_size_and_quantisation(models_dir: Path, model_file: Path,
                                                            tmp_path: Path) -> None:
    store = ollama_store(tmp_path / "ollama-models", model_file)
    (models_dir / "broken.gguf").write_bytes(b"not a model at all")

    result = run_salon("models", OLLAMA_MODELS=str(store), OLLAMA_HOST="127.0.0.1:9")

    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stderr
    assert any(line.startswith("gguf/gemma3 ") and "268M Q4_K_M" in line and "0.3 GB" in line for line in lines)
    assert any(line.startswith("gguf/llama3.2 ") and "268M Q4_K_M · from Ollama" in line for line in lines)
    assert any(line.startswith("gguf/broken ") and "unusable: is not a GGUF model file" in line for line in lines)
    # Ollama being down is still said, but the local models are there to use.
    assert "cannot reach Ollama" in result.stderr


def test_config_path_models_prints_the_models_folder(data_dir: Path) -> None:
    result = run_salon("config", "path", "models")

    assert (result.returncode, result.stdout) == (0, f"{data_dir / 'models'}\n")


def test_a_folder_listed_in_config_is_searched(engine_ready, model_file: Path, config_dir: Path,
                                              tmp_path: Path, local_agent: str) -> None:
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    (shelf / "tiny.gguf").symlink_to(model_file)
    (config_dir / "config.toml").write_text(f'[gguf]\nfolders = ["{shelf}"]\n', encoding="utf-8")

    listed = run_salon("models", OLLAMA_HOST="127.0.0.1:9")
    asked = run_salon("ask", "-a", local_agent, "-m", "gguf/tiny", "Say hello", timeout=GGUF_TIMEOUT)

    assert any(line.startswith("gguf/tiny ") for line in listed.stdout.splitlines()), listed.stdout
    assert asked.returncode == 0 and asked.stdout.strip(), asked.stderr


def test_a_bad_model_file_is_one_line_naming_it(models_dir: Path, model_file: Path) -> None:
    with model_file.open("rb") as whole:
        (models_dir / "half.gguf").write_bytes(whole.read(20_000_000))

    result = run_salon("ask", "-m", "gguf/half", "Say hello", timeout=GGUF_TIMEOUT)

    assert result.returncode == 1
    assert result.stderr.strip().startswith("salon: ")
    assert f"{models_dir / 'half.gguf'}: is cut off" in result.stderr and "Traceback" not in result.stderr


def test_without_the_extra_the_error_says_how_to_install_it(models_dir: Path, tmp_path: Path) -> None:
    # A Python where `import llama_cpp` fails as it does where the package is not installed.
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['llama_cpp'] = None\n", encoding="utf-8")
    from tests.conftest import ROOT

    result = run_salon("ask", "-m", "gguf/gemma3", "Say hello", timeout=GGUF_TIMEOUT,
                       PYTHONPATH=f"{blocker}:{ROOT / 'app'}:{ROOT}")

    assert result.returncode == 1
    assert "llama-cpp-python, which is not installed" in result.stderr
    assert "pip install 'salon[local]'" in result.stderr and "Traceback" not in result.stderr

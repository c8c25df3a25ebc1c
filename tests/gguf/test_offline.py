"""Offline means offline: the real-model tests pass again inside a network namespace that has only loopback.

``unshare --net`` gives the child processes a network stack of their own with one interface, ``lo``: no route
anywhere, no DNS. The chosen tests (``salon ask`` on a path, a models-folder name and an Ollama-store model, the
TUI streaming and Esc, the provider itself) run there in a fresh pytest, and must all pass, none skipped. The
audit hook of ``tests/faults/audit`` logs every network contact Python tries in there (before the attempt, so
one that fails offline is logged too): a ``salon ask`` on a gguf model tries none at all.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, salon_env
from tests.faults.conftest import AUDIT_DIR, beyond_loopback, contacts

OFFLINE_TESTS = [
    "tests/gguf/test_cli.py::test_ask_streams_a_real_models_reply_and_keeps_it_whole",
    "tests/gguf/test_cli.py::test_ask_runs_a_file_by_its_path",
    "tests/gguf/test_cli.py::test_ask_runs_a_model_ollama_pulled_with_no_ollama_server",
    "tests/gguf/test_tui.py",
    "tests/gguf/test_provider.py::test_a_reply_streams_token_by_token_and_ends_with_llama_cpps_counts",
    "tests/gguf/test_provider.py::test_cancel_stops_generation_within_a_token_or_two",
]
PROBE = ("import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), 3)\n    print('online')\n"
         "except OSError as error:\n    print('offline', error.errno)\n")


def in_namespace(*command: str, timeout: float, **env: str) -> subprocess.CompletedProcess:
    # lo comes up in the new namespace first: tests may use loopback, as local software does.
    script = 'ip link set lo up && exec "$@"'
    return subprocess.run(["unshare", "--net", "sh", "-c", script, "sh", *command], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, "SALON_REQUIRE_LOCAL": "1", **env})


@pytest.fixture
def namespace() -> None:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("no network namespace here: `unshare` or `ip` (util-linux, iproute2) is not installed")
    made = in_namespace(sys.executable, "-c", PROBE, timeout=60)
    if made.returncode != 0:
        pytest.skip(f"no network namespace here (unshare --net needs root or user namespaces): "
                    f"{made.stderr.strip()[:200]}")
    assert made.stdout.strip() == f"offline {101}", made.stdout  # ENETUNREACH: there is no route out


def test_the_real_model_tests_pass_with_no_network(engine_ready, namespace: None, tmp_path: Path) -> None:
    log = tmp_path / "contacts.jsonl"
    done = in_namespace(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=-ra",
                        *OFFLINE_TESTS, timeout=900, SALON_AUDIT_LOG=str(log),
                        PYTHONPATH=os.pathsep.join([str(AUDIT_DIR), str(ROOT / "app"), str(ROOT)]))

    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) == 7, summary
    assert "skipped" not in summary and "failed" not in summary, summary
    # The in-process tests (provider, TUI) tried nothing beyond loopback either.
    assert beyond_loopback(contacts(log)) == []


def test_salon_ask_on_a_gguf_model_tries_no_network_contact_at_all(engine_ready, namespace: None, models_dir: Path,
                                                                   local_agent: str, tmp_path: Path) -> None:
    log = tmp_path / "contacts.jsonl"
    done = in_namespace(sys.executable, "-m", "salon", "ask", "-a", local_agent, "Say hello", timeout=300,
                        **salon_env(SALON_AUDIT_LOG=str(log),
                                    PYTHONPATH=os.pathsep.join([str(AUDIT_DIR), str(ROOT / "app"), str(ROOT)])))

    assert done.returncode == 0 and done.stdout.strip(), done.stderr
    assert contacts(log) == []  # not a name looked up, not a socket opened: not even loopback


def test_the_audit_hook_is_live_in_the_namespace(namespace: None, tmp_path: Path) -> None:
    # The control: the same set-up logs a contact when one is tried, so the checks above can fail.
    log = tmp_path / "contacts.jsonl"
    in_namespace(sys.executable, "-c", PROBE, timeout=60, SALON_AUDIT_LOG=str(log),
                 PYTHONPATH=os.pathsep.join([str(AUDIT_DIR), str(ROOT / "app"), str(ROOT)]))

    assert ("socket.connect", "1.1.1.1") in [(c["event"], c["host"]) for c in contacts(log)]

"""What every fault test shares: planted keys, the real ``salon`` in a subprocess, and a look at what was kept.

Each test that runs Salon plants two keys (one in ``OPENAI_API_KEY``, one in a variable that ``config.toml``
names with ``api_key_env``) and, at the end, greps everything the user could see or keep for them: the database
and its WAL, exports, logs, standard output and standard error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from salon.store import Store, StoredMessage
from tests.conftest import ROOT, salon_env
from tests.servers.ollama import OllamaServer

ENV_KEY = "sk-PLANTED-env-5f2a9c7e1b3d"
CONFIG_KEY = "cfg-PLANTED-named-8d41e06c"
# A name that does not look like a secret's: only config.toml's api_key_env marks its value as one.
CONFIG_KEY_VAR = "SALON_FAULTS_LLM_VAR"
MARK = b"PLANTED"
PLANTED_ENV = {"OPENAI_API_KEY": ENV_KEY, CONFIG_KEY_VAR: CONFIG_KEY}
PLANTED_CONFIG = f'[providers.corp]\napi_base = "http://127.0.0.1:9/v1"\napi_key_env = "{CONFIG_KEY_VAR}"\n'


@dataclass(frozen=True)
class Home:
    """One test's folders: what Salon reads (config) and keeps (data), and where exports go."""

    root: Path
    config_dir: Path
    data_dir: Path

    def write_config(self, extra: str = "") -> None:
        # Top-level keys of ``extra`` must come before the first table.
        text = textwrap.dedent(extra) + "\n" + PLANTED_CONFIG
        (self.config_dir / "config.toml").write_text(text, encoding="utf-8")

    def conversations(self) -> list[tuple[str, list[StoredMessage]]]:
        """(title, messages) of every stored conversation, newest first, read as the next start reads them."""
        with Store.open(self.data_dir, secrets=()) as store:
            return [(c.title, store.messages(c.id)) for c in store.conversations()]

    def only_exchange(self) -> list[StoredMessage]:
        (conversation,) = self.conversations()
        return conversation[1]


@pytest.fixture
def home(isolated_home: Path, config_dir: Path, data_dir: Path) -> Iterator[Home]:
    """The test's folders with the planted keys in config.toml; afterwards, no planted key anywhere in them."""
    folders = Home(isolated_home, config_dir, data_dir)
    folders.write_config()
    yield folders
    assert_no_planted_files(isolated_home)


def assert_no_planted_files(root: Path) -> None:
    """No file under ``root`` (database, WAL, exports, logs, backups) holds a planted key."""
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert MARK not in path.read_bytes(), f"a planted key reached {path}"


def assert_no_planted(*texts: str) -> None:
    for text in texts:
        assert MARK.decode() not in text, f"a planted key was shown: {text[:500]!r}"


def salon_process_env(without: Sequence[str] = (), **extra: str) -> dict[str, str]:
    env = salon_env(**{**PLANTED_ENV, **extra})
    for name in without:
        env.pop(name, None)
    return env


def salon(*args: str, input: str | None = None, timeout: float = 120, without: Sequence[str] = (),
          audit: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    """The real ``salon`` with the planted keys in its environment (less those named in ``without``); its output
    is checked for them. With ``audit``, every network contact it tries is logged there (see :func:`contacts`)."""
    environment = audited_env(audit, without, **env) if audit else salon_process_env(without, **env)
    done = subprocess.run([sys.executable, "-m", "salon", *args], input=input,
                          stdin=None if input is not None else subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, env=environment, cwd=ROOT)
    assert_no_planted(done.stdout, done.stderr)
    return done


def popen_salon(*args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "salon", *args], env=salon_process_env(**env), cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def next_command_works(server: OllamaServer, home: Home) -> None:
    """After the fault, an ordinary exchange succeeds and is kept."""
    from tests.servers.ollama import Scripted

    before = len(home.conversations())
    server.script(Scripted(text="Working again."))
    done = salon("ask", "Still there?")
    assert (done.returncode, done.stdout) == (0, "Working again.\n"), done.stderr
    assert len(home.conversations()) == before + 1
    assert home.conversations()[0][1][-1].text == "Working again."


# -- running inside Linux namespaces ------------------------------------------------------------------------


def namespaces_unavailable(*flags: str) -> str | None:
    """Why ``unshare FLAGS`` cannot be used here, or None when it can."""
    if sys.platform != "linux":
        return f"Linux namespaces only ({sys.platform})"
    if shutil.which("unshare") is None:
        return "util-linux `unshare` is not installed"
    try:
        probe = subprocess.run(["unshare", *flags, "true"], capture_output=True, text=True, timeout=10)
    except OSError as error:
        return f"unshare {' '.join(flags)} cannot run: {error}"
    if probe.returncode != 0:
        return f"unshare {' '.join(flags)} is not permitted here: {probe.stderr.strip() or probe.returncode}"
    return None


def require_namespaces(*flags: str) -> None:
    if reason := namespaces_unavailable(*flags):
        pytest.skip(reason)


def require_mounts() -> None:
    """Skip unless a tmpfs can be mounted (and remounted read-only) in a private mount namespace."""
    require_namespaces("-m")
    probe = subprocess.run(["unshare", "-m", "sh", "-c",
                            "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs \"$d\" && "
                            "mount -o remount,ro \"$d\"; r=$?; umount \"$d\" 2>/dev/null; rmdir \"$d\"; exit $r"],
                           capture_output=True, text=True, timeout=10)
    if probe.returncode != 0:
        pytest.skip(f"mounting a tmpfs inside `unshare -m` is not permitted here (needs CAP_SYS_ADMIN): "
                    f"{probe.stderr.strip()}")


def uid_is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


# A prelude for scripts run inside a namespace: run the real `salon` and report what it did, as JSON lines.
INSIDE_PRELUDE = '''
import json, os, subprocess, sys
RESULTS = {}

def sh(*command):
    subprocess.run(command, check=True, capture_output=True, text=True)

def salon(name, *args, **env):
    done = subprocess.run([sys.executable, "-m", "salon", *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, env={**os.environ, **env})
    RESULTS[name] = {"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr}
    return done

def report():
    print(json.dumps(RESULTS))
'''


def run_inside(flags: list[str], script: str, workdir: Path, timeout: float = 120, **env: str) -> dict[str, dict]:
    """Run ``script`` (after :data:`INSIDE_PRELUDE`) under ``unshare FLAGS`` with the planted keys in its
    environment; returns what each ``salon(name, ...)`` call did, each checked for a planted key."""
    path = workdir / "inside.py"
    path.write_text(INSIDE_PRELUDE + textwrap.dedent(script) + "\nreport()\n", encoding="utf-8")
    done = subprocess.run(["unshare", *flags, sys.executable, str(path)], env=salon_process_env(**env),
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert done.returncode == 0, f"the script inside the namespace failed:\n{done.stderr[-3000:]}"
    results: dict[str, dict] = json.loads(done.stdout.splitlines()[-1])
    for result in results.values():
        assert_no_planted(result["stdout"], result["stderr"])
    return results


# -- who a process tried to reach -------------------------------------------------------------------------------

AUDIT_DIR = Path(__file__).resolve().parent / "audit"
LOOPBACK = frozenset({"127.0.0.1", "::1"})


def audited_env(log: Path, without: Sequence[str] = (), **extra: str) -> dict[str, str]:
    """:func:`salon_process_env` with the audit hook of ``audit/sitecustomize.py`` logging to ``log``."""
    env = salon_process_env(without, SALON_AUDIT_LOG=str(log), **extra)
    env["PYTHONPATH"] = os.pathsep.join([str(AUDIT_DIR), env["PYTHONPATH"]])
    return env


def contacts(log: Path) -> list[dict]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]


def beyond_loopback(entries: list[dict]) -> list[dict]:
    """Every contact with anything but 127.0.0.1 or ::1: a name looked up, a remote address, a local socket."""
    return [entry for entry in entries if entry["host"] not in LOOPBACK]


def streaming_words(home: Home) -> int:
    """Words of the reply still marked streaming in the database: how far its checkpoints have got."""
    import sqlite3

    path = home.data_dir / "salon.db"
    if not path.exists():
        return 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT text FROM messages WHERE role = 'assistant' AND status = 'streaming'").fetchone()
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()
    return len(row[0].split()) if row else 0

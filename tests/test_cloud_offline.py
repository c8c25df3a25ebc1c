"""Offline means offline: a cloud call contacts the server it was sent to and nothing else, and prints nothing of
litellm's.

Each test runs the real ``salon ask`` in a fresh interpreter with an audit hook (``sys.addaudithook``) that records
every ``socket.connect`` and every name lookup, so a price-list fetch, a tokenizer download or telemetry would show
up as an address other than the test server's, whether or not this machine has a network.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT, salon_env
from tests.servers.openai import OpenAIServer, Scripted

KEY = "sk-salon-offline-9d1e77c3"

AUDITED = textwrap.dedent('''
    import atexit, json, os, runpy, sys

    contacts = []

    def hook(event, args):
        if event == "socket.connect":
            address = args[1]
            contacts.append(["connect", *address[:2]] if isinstance(address, tuple) else ["connect", str(address)])
        elif event == "socket.getaddrinfo":
            contacts.append(["lookup", args[0] if isinstance(args[0], str) else repr(args[0]), args[1]])
        elif event in ("socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr"):
            contacts.append(["lookup", str(args[0]), None])
        elif event in ("socket.sendto", "socket.sendmsg"):
            contacts.append(["send", repr(args[-1])])

    def report():
        with open(os.environ["SALON_AUDIT_OUT"], "w") as out:
            json.dump(contacts, out)

    atexit.register(report)
    sys.addaudithook(hook)
    sys.argv = ["salon", *sys.argv[1:]]
    # __main__ stays this file-less script, as in a REPL or a notebook using Salon's API: litellm's .env loading
    # then searches from the working directory (under a script it searches upwards from litellm's own folder).
    runpy.run_module("salon", run_name="__main__")
''')


def audited_salon(cwd: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess, list[list]]:
    out = cwd / "contacts.json"
    environment = salon_env(SALON_AUDIT_OUT=str(out), **env)
    # Whatever an earlier test in this process set: Salon itself must switch litellm to offline and quiet.
    for name in ("LITELLM_MODE", "LITELLM_LOCAL_MODEL_COST_MAP", "LITELLM_LOG", "TIKTOKEN_CACHE_DIR"):
        environment.pop(name, None)
    done = subprocess.run([sys.executable, "-c", AUDITED, *args], capture_output=True, text=True, timeout=60,
                          env=environment, cwd=cwd)
    assert out.exists(), f"the audited run wrote no report; stderr:\n{done.stderr}"
    return done, json.loads(out.read_text())


def elsewhere(contacts: list[list], port: int) -> list[list]:
    """Every contact that is not the test server on 127.0.0.1:port."""
    return [c for c in contacts
            if not (c[0] == "connect" and c[1:] == ["127.0.0.1", port])
            and not (c[0] == "lookup" and c[1] == "127.0.0.1" and c[2] in (port, str(port)))]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """The folder `salon` runs in, with a .env file litellm would load in its default mode."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / ".env").write_text("OPENAI_API_KEY=sk-from-a-dotenv-file\n", encoding="utf-8")
    return folder


def configure(config_dir: Path, text: str) -> None:
    (config_dir / "config.toml").write_text(textwrap.dedent(text), encoding="utf-8")


def test_a_cloud_reply_contacts_only_the_server_and_prints_only_the_reply(
        openai_server: OpenAIServer, config_dir: Path, workdir: Path) -> None:
    openai_server.require_key(KEY)
    openai_server.script(Scripted(text="Virtue is knowledge.", rate=200))
    configure(config_dir, f'''
        [providers.openai]
        api_base = "{openai_server.api_base}"
    ''')
    done, contacts = audited_salon(workdir, "ask", "--model", "openai/gpt-4o-mini", "What is virtue?",
                                   OPENAI_API_KEY=KEY)

    assert (done.returncode, done.stdout, done.stderr) == (0, "Virtue is knowledge.\n", "")
    assert ["connect", "127.0.0.1", openai_server.port] in contacts
    assert elsewhere(contacts, openai_server.port) == []


def test_estimating_usage_for_a_llama_model_downloads_no_tokenizer(
        openai_server: OpenAIServer, config_dir: Path, workdir: Path) -> None:
    # With no counts from the server litellm estimates them, and for names like "llama-3" it would fetch a
    # tokenizer from Hugging Face first.
    openai_server.script(Scripted(text="Virtue is knowledge.", usage=False))
    configure(config_dir, f'''
        [providers.local]
        api_base = "{openai_server.api_base}"
    ''')
    done, contacts = audited_salon(workdir, "ask", "--usage", "--model", "local/llama-3.2-3b-instruct",
                                   "What is virtue?")

    assert (done.returncode, done.stdout) == (0, "Virtue is knowledge.\n"), done.stderr
    (usage,) = done.stderr.splitlines()
    assert usage.startswith("[") and "(estimated)" in usage
    assert elsewhere(contacts, openai_server.port) == []


def test_a_refused_cloud_request_prints_salons_message_and_no_litellm_banner(
        openai_server: OpenAIServer, config_dir: Path, workdir: Path) -> None:
    openai_server.require_key("sk-some-other-key-0000")
    configure(config_dir, f'''
        [providers.openai]
        api_base = "{openai_server.api_base}"
    ''')
    done, contacts = audited_salon(workdir, "ask", "--model", "openai/gpt-4o-mini", "What is virtue?",
                                   OPENAI_API_KEY=KEY)

    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("salon: openai refused the request (401: Incorrect API key provided")
    assert KEY not in done.stderr
    assert elsewhere(contacts, openai_server.port) == []


def test_a_missing_key_contacts_nobody_and_a_dotenv_file_is_not_read(config_dir: Path, workdir: Path) -> None:
    # No api_base: a request would go to api.openai.com, with the key from ./.env if litellm loaded it.
    done, contacts = audited_salon(workdir, "ask", "--model", "openai/gpt-4o-mini", "What is virtue?")

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == ("salon: openai/gpt-4o-mini needs an API key: set OPENAI_API_KEY (or api_key_env in "
                           "config.toml).\n")
    assert [c for c in contacts if c[0] != "lookup" or c[1] not in ("127.0.0.1", "localhost")] == []


def test_the_audit_sees_a_contact_the_test_server_did_not_ask_for(tmp_path: Path) -> None:
    # The control: a lookup of a name other than the server's shows up, so the tests above can fail.
    out = tmp_path / "contacts.json"
    script = AUDITED.replace('runpy.run_module("salon", run_name="__main__")',
                             'import socket\ntry:\n    socket.getaddrinfo("price-list.invalid", 443)\n'
                             'except OSError:\n    pass')
    subprocess.run([sys.executable, "-c", script], env=salon_env(SALON_AUDIT_OUT=str(out)), cwd=ROOT,
                   timeout=30, check=True)

    assert elsewhere(json.loads(out.read_text()), 1) == [["lookup", "price-list.invalid", 443]]

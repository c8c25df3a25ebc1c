"""Broken files a user wrote: agents (malformed, duplicate, cyclic), config.toml, themes, and a cloud agent whose
key is not set. Each is reported as ``path:line: reason`` or names the setting to fix; nothing else stops working;
nothing the user wrote is rewritten; a request that cannot succeed is never sent.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.faults.conftest import Home, beyond_loopback, contacts, next_command_works, salon
from tests.servers.ollama import OllamaServer, Scripted
from tests.servers.openai import OpenAIServer

BUNDLED = ("assistant", "plato", "socrates")


def _agent(home: Home, name: str, text: str) -> Path:
    folder = home.config_dir / "agents"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _listed(stdout: str) -> list[str]:
    return [line.split()[0] for line in stdout.splitlines() if line.strip()]


# -- agent files ----------------------------------------------------------------------------------------------


def test_a_malformed_agent_file_is_reported_at_its_line_and_every_other_agent_still_works(
        home: Home, ollama_server: OllamaServer) -> None:
    broken = _agent(home, "broken", 'name = "Broken\nmodel = "ollama/llama3.2"\n')
    wrong_type = _agent(home, "wrong", 'name = "Wrong"\nmodel = "ollama/llama3.2"\n\n[params]\ntemperature = "hot"\n')

    checked = salon("agents", "validate")
    assert checked.returncode == 1
    assert f"{broken}:1: invalid TOML" in checked.stdout
    assert f"{wrong_type}:5: 'params.temperature' should be a number, not \"hot\"" in checked.stdout
    listing = salon("agents", "list")
    assert listing.returncode == 0 and set(BUNDLED) <= set(_listed(listing.stdout))
    assert "broken" not in _listed(listing.stdout)
    assert f"{broken}:1: invalid TOML" in listing.stderr  # shown where agents are listed, not hidden
    next_command_works(ollama_server, home)


def test_a_duplicate_key_in_an_agent_file_is_reported_at_the_second_one(home: Home) -> None:
    path = _agent(home, "twice", 'name = "Once"\nmodel = "ollama/llama3.2"\nname = "Twice"\n')
    checked = salon("agents", "validate", str(path))
    assert (checked.returncode, checked.stdout) == (1, f"{path}:3: invalid TOML: Cannot overwrite a value\n")


def test_a_user_agent_with_a_bundled_agents_id_replaces_it_and_says_so(
        home: Home, ollama_server: OllamaServer) -> None:
    _agent(home, "socrates", 'name = "My Socrates"\nmodel = "ollama/llama3.2"\nsystem = "Be brief, Socrates."\n')
    listing = salon("agents", "list")
    (line,) = [ln for ln in listing.stdout.splitlines() if ln.startswith("socrates ")]
    assert "My Socrates" in line and "[overrides bundled]" in line
    ollama_server.script(Scripted(text="Why?"))
    done = salon("ask", "--agent", "socrates", "What is virtue?")
    assert (done.returncode, done.stdout) == (0, "Why?\n"), done.stderr
    assert ollama_server.requests[0]["messages"][0] == {"role": "system", "content": "Be brief, Socrates."}


def test_cyclic_agents_are_reported_with_the_cycle_and_never_run(home: Home, ollama_server: OllamaServer) -> None:
    first = _agent(home, "first", 'name = "First"\nmodel = "ollama/llama3.2"\n[[steps]]\nagent = "second"\n')
    second = _agent(home, "second", 'name = "Second"\nmodel = "ollama/llama3.2"\n[[steps]]\nagent = "first"\n')
    itself = _agent(home, "itself", 'name = "Itself"\nmodel = "ollama/llama3.2"\n[[steps]]\nagent = "itself"\n')

    checked = salon("agents", "validate")
    assert checked.returncode == 1
    errors = [ln for ln in checked.stdout.splitlines() if not ln.startswith("ok ")]
    assert sorted(errors) == sorted([
        f"{first}:4: steps[1] names agent 'second', which failed to load",
        f"{second}:4: steps[1] makes a cycle: first → second → first",
        f"{itself}:4: steps[1] makes a cycle: itself → itself",
    ])
    for agent in ("first", "second", "itself"):
        done = salon("ask", "--agent", agent, "Round and round?")
        assert (done.returncode, done.stdout) == (1, "")
        # The file's own path:line reason, for the agent asked for or the one its step names.
        assert done.stderr.startswith(f"salon: {home.config_dir}/agents/{agent}.toml:4: ")
    assert ollama_server.requests == []  # nothing was sent for an agent that cannot run
    next_command_works(ollama_server, home)


@pytest.mark.parametrize("content", [
    pytest.param('name = "Broken\nmodel = "ollama/llama3.2"\n', id="malformed"),
    pytest.param('name = "Loop"\nmodel = "ollama/llama3.2"\n[[steps]]\nagent = "loop"\n', id="cyclic"),
])
def test_asking_an_agent_whose_file_is_broken_says_what_is_wrong_with_the_file(home: Home, content: str) -> None:
    path = _agent(home, "loop" if "Loop" in content else "broken", content)
    done = salon("ask", "--agent", path.stem, "Hello?")
    assert (done.returncode, done.stdout) == (1, "")
    assert f"{path}:" in done.stderr, done.stderr


def test_a_broken_override_of_a_bundled_agent_is_not_silently_replaced_by_the_bundled_one(
        home: Home, ollama_server: OllamaServer) -> None:
    path = _agent(home, "assistant", 'name = "My assistant"\nmodel = "ollama/qwen3\nsystem = "Be terse."\n')
    ollama_server.script(Scripted(text="Hello."))
    done = salon("ask", "Hello?")
    assert str(path) in done.stderr, (done.returncode, done.stderr)


# -- config.toml ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "said"), [
    pytest.param('theme = "salon-dark\n[ollama]\nhost = "http://127.0.0.1:1"\n', "Illegal character",
                 id="not-toml"),
    pytest.param('[ollama]\nread_timeout = "fast"\nhost = 11434\n', "'ollama.read_timeout' should be",
                 id="wrong-types"),
    pytest.param('[ollama]\nread_timeout = -3\n', "should be a number of seconds above 0", id="negative-timeout"),
    pytest.param("\xff\xfe not utf-8", "codec can't decode", id="not-utf8"),
])
def test_a_malformed_config_file_is_named_left_as_it_is_and_defaults_used(
        home: Home, ollama_server: OllamaServer, text: str, said: str) -> None:
    path = home.config_dir / "config.toml"
    path.write_bytes(text.encode("latin-1") if text.startswith("\xff") else text.encode())
    before = hashlib.sha256(path.read_bytes()).hexdigest()

    ollama_server.script(Scripted(text="Still answering."))
    done = salon("ask", "Hello?")
    assert (done.returncode, done.stdout) == (0, "Still answering.\n"), done.stderr
    warnings = done.stderr.splitlines()
    assert warnings and all(w.startswith(f"salon: warning: {path}: ") for w in warnings), done.stderr
    assert any(said in w for w in warnings), warnings
    shown = salon("config", "show")
    assert shown.returncode == 0 and said in shown.stderr
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before  # the user's file, untouched
    assert [title for title, _ in home.conversations()] == ["Hello?"]


# -- themes ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "said"), [
    pytest.param('primary = "#0178D4"\n[variables\n', ":2: invalid TOML", id="not-toml"),
    pytest.param('primary = "not a colour"\n', "primary", id="bad-colour"),
])
def test_a_malformed_theme_file_is_named_and_the_default_theme_used(
        home: Home, ollama_server: OllamaServer, text: str, said: str) -> None:
    themes = home.config_dir / "themes"
    themes.mkdir()
    path = themes / "mine.toml"
    path.write_text(text, encoding="utf-8")
    home.write_config('theme = "mine"\n')

    shown = salon("config", "show")
    assert shown.returncode == 0
    assert f"warning: {path}" in shown.stderr and said in shown.stderr, shown.stderr
    # The file's own error is the story: not "does not exist", which would send the user looking for it.
    assert f"theme 'mine' failed to load ({path}); Salon will use salon-dark" in shown.stderr
    assert "does not exist" not in shown.stderr
    ollama_server.script(Scripted(text="Themes do not matter here."))
    done = salon("ask", "Hello?")
    assert (done.returncode, done.stdout, done.stderr) == (0, "Themes do not matter here.\n", "")


# -- a cloud agent without its key ----------------------------------------------------------------------------


def test_a_cloud_agent_without_its_key_says_which_variable_to_set_and_contacts_nobody(
        home: Home, tmp_path: Path) -> None:
    log = tmp_path / "contacts.jsonl"
    done = salon("ask", "--agent", "openai-assistant", "What is virtue?", without=["OPENAI_API_KEY"], audit=log)

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == ("salon: openai/gpt-4o-mini needs an API key: set OPENAI_API_KEY (or api_key_env in "
                           "config.toml).\n")
    assert beyond_loopback(contacts(log)) == []
    assert [c for c in contacts(log) if c["event"] == "socket.connect"] == []
    prompt, reply = home.only_exchange()
    assert (prompt.text, reply.status) == ("What is virtue?", "failed")
    assert "set OPENAI_API_KEY" in reply.error


def test_a_named_key_variable_that_is_unset_is_named_and_the_server_gets_nothing(home: Home) -> None:
    with OpenAIServer(api_key="sk-never-sent-0000") as server:
        home.write_config(f'[providers.openai]\napi_base = "{server.api_base}"\napi_key_env = "MY_OPENAI_KEY"\n')
        done = salon("ask", "--model", "openai/gpt-4o-mini", "What is virtue?")
        assert server.requests == []

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == ("salon: openai/gpt-4o-mini needs an API key: set MY_OPENAI_KEY (or api_key_env in "
                           "config.toml).\n")

"""Agent folders on the command line (issue 18): ``salon agents import`` and ``validate``, and the documents'
Socrates-then-Plato Python agent through ``salon ask`` — real ``salon`` subprocesses against the test server."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from salon.agents.definition import default_directories, load_agents
from salon.store import Store
from tests.agent_folders import DOCS_METADATA, SOCRATES_THEN_PLATO, local_metadata, write_folder
from tests.conftest import ROOT, run_salon, salon_env
from tests.hostile import LINE_BREAKS, pty_forbidden
from tests.servers.ollama import OllamaServer, Scripted
from tests.terminal_run import run_on_terminal

SOCRATES = "Tell me, friend, what do you mean by virtue?"
PLATO = "Virtue is the harmony of the soul."
BOTH = f"## Streaming Example\n\n{SOCRATES}\n\n## Streaming Example\n\n{PLATO}\n"


def user_agent(config_dir: Path, program: str = SOCRATES_THEN_PLATO, name: str = "streaming-example") -> Path:
    return write_folder(config_dir / "agents", name, local_metadata(), program)


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "salon", *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=salon_env(), cwd=ROOT)


def read_until(process: subprocess.Popen, needle: str, timeout: float = 60) -> str:
    """Standard output as it arrives, until it holds ``needle``."""
    received = b""
    deadline = time.monotonic() + timeout
    fd = process.stdout.fileno()  # type: ignore[union-attr]
    while needle.encode() not in received:
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} not printed; got {received!r}")
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            piece = os.read(fd, 4096)
            if not piece:
                raise AssertionError(f"salon ended before printing {needle!r}; got {received!r}")
            received += piece
    return received.decode()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- salon ask ----------------------------------------------------------------------------------------------------


def test_ask_prints_each_final_message_under_its_label(ollama_server: OllamaServer, config_dir):
    user_agent(config_dir)
    held = threading.Event()
    ollama_server.script(Scripted(text=SOCRATES), Scripted(text=PLATO, hold_final=held))
    process = start("ask", "-a", "streaming-example", "What is virtue?")
    try:
        # Socrates' whole message is printed while Plato's is still being written.
        so_far = read_until(process, "\n\n## Streaming Example\n\n")
        assert so_far == f"## Streaming Example\n\n{SOCRATES}\n\n## Streaming Example\n\n"
        assert not ollama_server.state.finished_at[1:], "Plato's reply has not ended"
    finally:
        held.set()
    rest, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert so_far + rest.decode() == BOTH


def test_ask_stream_prints_each_message_as_it_arrives(ollama_server: OllamaServer, config_dir):
    user_agent(config_dir)
    held = threading.Event()
    ollama_server.script(Scripted(text=SOCRATES), Scripted(text=PLATO, hold_final=held))
    process = start("ask", "--stream", "-a", "streaming-example", "What is virtue?")
    try:
        so_far = read_until(process, PLATO)
        assert len(ollama_server.state.finished_at) == 1, "Plato's text is printed before his reply ends"
    finally:
        held.set()
    rest, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert so_far + rest.decode() == BOTH


def test_ctrl_c_stops_the_python_agent_keeping_what_streamed(ollama_server: OllamaServer, config_dir, data_dir):
    user_agent(config_dir)
    held = threading.Event()
    ollama_server.script(Scripted(text=SOCRATES), Scripted(text=PLATO, hold_final=held))
    process = start("ask", "--stream", "-a", "streaming-example", "What is virtue?")
    try:
        so_far = read_until(process, PLATO)
        process.send_signal(signal.SIGINT)
        rest, err = process.communicate(timeout=60)
    finally:
        held.set()
    assert process.returncode == 130
    assert so_far + rest.decode() == BOTH
    assert "interrupted" in err.decode()
    with Store.open(data_dir) as store:
        (conversation,) = store.conversations()
        assert [(m.text, m.status) for m in store.messages(conversation.id)] == [
            ("What is virtue?", "complete"), (SOCRATES, "complete"), (PLATO, "interrupted")]


def test_ask_reports_an_agent_that_raises_with_its_file_and_line(ollama_server: OllamaServer, config_dir):
    folder = user_agent(config_dir, name="faulty", program=(
        "stream = env.completion(env.list_messages(), stream=True)\n"
        "for number, chunk in enumerate(stream):\n"
        "    if number == 2:\n"
        "        raise KeyError('missing')\n"))
    ollama_server.script(Scripted(text="one two three four"))
    result = run_salon("ask", "--stream", "-a", "faulty", "go")
    assert result.returncode == 1
    assert result.stdout == "## Streaming Example\n\none two three\n"
    assert f"salon: {folder / 'agent.py'}:4: KeyError: 'missing'\n" in result.stderr


def test_prints_from_the_agent_go_to_standard_error(ollama_server: OllamaServer, config_dir):
    user_agent(config_dir, name="chatty", program=(
        "print('thinking aloud')\n"
        "env.add_reply(env.completion(env.list_messages()))\n"))
    ollama_server.script(Scripted(text="Answer."))
    result = run_salon("ask", "-a", "chatty", "go")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "## Streaming Example\n\nAnswer.\n"
    assert result.stderr == "thinking aloud\n"


# -- salon agents import --------------------------------------------------------------------------------------------


def test_the_documents_metadata_imports_as_a_private_toml_agent(config_dir, tmp_path):
    source = write_folder(tmp_path / "downloads", "streaming-example", DOCS_METADATA)
    result = run_salon("agents", "import", str(source / "metadata.json"))
    assert result.returncode == 0, result.stderr
    target = config_dir / "agents" / "streaming-example.toml"
    assert result.stdout.startswith(f"imported streaming-example → {target}\nnote: model: the hub runs")
    assert "pass --model" in result.stdout
    assert (mode(target), mode(target.parent)) == (0o600, 0o700)
    catalog = load_agents(default_directories())
    assert catalog.errors == []
    agent = catalog.get("streaming-example")
    assert agent.path == target and agent.program is None
    assert agent.name == "Streaming Example"
    assert agent.welcome is not None and agent.welcome.title == "Example of streaming agent runs"
    assert agent.welcome.description == "I respond as Socrates then as Plato."
    assert agent.show_streaming_message is True
    assert agent.model == "fireworks_ai/accounts/fireworks/models/llama-v3p3-70b-instruct"
    assert dict(agent.params) == {"max_tokens": 4000}
    assert (agent.version, agent.tags) == ("0.0.3", ("streaming",))
    # The notes travel with the file, as comments.
    assert "# note: kept out (Salon has no use for them): details.icon" in target.read_text()
    again = run_salon("agents", "import", str(source))
    assert again.returncode == 1 and "already exists; `--force` replaces it" in again.stderr
    assert run_salon("agents", "import", "--force", str(source)).returncode == 0


def test_an_imported_agent_answers_through_salon_ask(ollama_server: OllamaServer, config_dir, tmp_path):
    source = write_folder(tmp_path / "downloads", "quiet", local_metadata(show_streaming_message=False))
    assert run_salon("agents", "import", str(source)).returncode == 0
    ollama_server.script(Scripted(text="Hello."))
    result = run_salon("ask", "-a", "quiet", "hi")
    assert (result.returncode, result.stdout) == (0, "Hello.\n")
    assert ollama_server.requests[0]["options"]["num_predict"] == 4000


def test_a_broken_metadata_is_reported_with_its_line_and_nothing_is_written(config_dir, tmp_path):
    text = json.dumps(DOCS_METADATA, indent=2).replace('"tags": [', '"tags" [')
    source = write_folder(tmp_path / "downloads", "broken", text)
    result = run_salon("agents", "import", str(source))
    line = text.splitlines().index('  "tags" [') + 1
    assert result.returncode == 1
    assert result.stderr == f"salon: {source / 'metadata.json'}:{line}: invalid JSON: Expecting ':' delimiter\n"
    assert not (config_dir / "agents").exists()


def test_a_python_agent_is_not_copied_from_a_pipe_without_yes(config_dir, tmp_path):
    source = write_folder(tmp_path / "downloads", "streaming-example", local_metadata(), SOCRATES_THEN_PLATO)
    refused = run_salon("agents", "import", str(source), input="y\n")
    assert refused.returncode == 1
    assert "agent.py is a Python program; not copied without asking" in refused.stderr
    assert "--yes" in refused.stderr
    assert not (config_dir / "agents").exists()
    accepted = run_salon("agents", "import", "--yes", str(source))
    assert accepted.returncode == 0, accepted.stderr
    target = config_dir / "agents" / "streaming-example"
    assert sorted(p.name for p in target.iterdir()) == ["agent.py", "metadata.json"]
    assert (mode(target), mode(target / "agent.py"), mode(target / "metadata.json")) == (0o700, 0o600, 0o600)
    assert (target / "agent.py").read_text() == SOCRATES_THEN_PLATO
    assert load_agents(default_directories()).get("streaming-example").program == target / "agent.py"


def _import_on_a_terminal(source: Path, answer: str) -> tuple[int, str]:
    """``salon agents import`` with a terminal for its input and output; ``answer`` typed at the question."""
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "salon", "agents", "import", str(source)], stdin=slave,
                               stdout=slave, stderr=slave, env=salon_env(), cwd=ROOT)
    os.close(slave)
    seen = b""
    answered = False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                piece = os.read(master, 4096)
            except OSError:
                break
            if not piece:
                break
            seen += piece
            if not answered and b"[y/N] " in seen:
                os.write(master, answer.encode() + b"\n")
                answered = True
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    return process.returncode, seen.decode(errors="replace").replace("\r\n", "\n")


@pytest.mark.parametrize("answer", ["n", ""])
def test_a_python_agent_is_not_copied_unless_the_user_says_yes(config_dir, tmp_path, answer):
    source = write_folder(tmp_path / "downloads", "streaming-example", local_metadata(), SOCRATES_THEN_PLATO)
    code, shown = _import_on_a_terminal(source, answer)
    assert code == 1
    assert f"{source / 'agent.py'} is a Python program: once imported, it runs with your permissions" in shown
    assert "not imported" in shown
    assert not (config_dir / "agents" / "streaming-example").exists()


def test_a_python_agent_is_copied_when_the_user_says_yes(ollama_server: OllamaServer, config_dir, tmp_path):
    source = write_folder(tmp_path / "downloads", "streaming-example", local_metadata(), SOCRATES_THEN_PLATO)
    code, shown = _import_on_a_terminal(source, "y")
    assert code == 0, shown
    assert f"imported streaming-example → {config_dir / 'agents' / 'streaming-example'}" in shown
    ollama_server.script(Scripted(text=SOCRATES), Scripted(text=PLATO))
    result = run_salon("ask", "-a", "streaming-example", "What is virtue?")
    assert (result.returncode, result.stdout) == (0, BOTH)


def test_a_python_agent_elsewhere_is_refused_by_ask(ollama_server: OllamaServer, config_dir, tmp_path):
    elsewhere = tmp_path / "downloads"
    write_folder(elsewhere, "stranger", local_metadata(), SOCRATES_THEN_PLATO)
    result = run_salon("agents", "validate", str(elsewhere))
    assert result.returncode == 1
    assert "a Python agent runs only from your own agents folder" in result.stdout
    asked = run_salon("ask", "-a", "stranger", "hi")
    assert asked.returncode == 1 and "no agent named 'stranger'" in asked.stderr
    assert ollama_server.requests == []


# -- salon agents validate, list, show ---------------------------------------------------------------------------


def test_validate_checks_agent_folders_like_toml_agents(config_dir):
    agents = config_dir / "agents"
    write_folder(agents, "streaming-example", DOCS_METADATA)
    text = json.dumps(local_metadata(), indent=2).replace('"model_max_tokens": 4000', '"model_max_tokens": "many"')
    write_folder(agents, "typo", text)
    result = run_salon("agents", "validate")
    assert result.returncode == 1
    example = agents / "streaming-example" / "metadata.json"
    assert f"ok   {example}  (streaming-example: Streaming Example)\n" in result.stdout
    assert f"note {example}: model: the hub runs 'llama-v3p3-70b-instruct' on Fireworks" in result.stdout
    line = text.splitlines().index('        "model_max_tokens": "many",') + 1
    assert (f"{agents / 'typo' / 'metadata.json'}:{line}: 'details.agent.defaults.model_max_tokens' should be a "
            "whole number, not \"many\"\n") in result.stdout
    assert "ok   " in run_salon("agents", "validate", str(agents / "streaming-example")).stdout


def test_list_and_show_name_the_python_agent_and_its_program(config_dir):
    folder = user_agent(config_dir)
    listed = run_salon("agents", "list")
    assert "streaming-example    Streaming Example — ollama/llama3.2  [user, python]" in listed.stdout
    shown = run_salon("agents", "show", "streaming-example")
    assert f"runs:        {folder / 'agent.py'}\n" in shown.stdout
    assert "version:     0.0.3\ntags:        streaming\n" in shown.stdout


def test_hostile_metadata_is_inert_on_a_terminal_and_cannot_write_toml_keys(config_dir, tmp_path):
    metadata = local_metadata()
    metadata["details"]["display_name"] = "Guest \x1b]0;PWNED\x07 \x9b2J [@click=app.quit]x[/]"
    metadata["details"]["agent"]["defaults"]["model_provider"] = "evil\x1b]52;c;aGFja2Vk\x07\n[params]\nseed = 2\n"
    metadata["x\nmodel = \"ollama/stolen\"\n[params]\nseed = 1\n#"] = 1
    source = write_folder(tmp_path / "downloads", "guest", metadata)
    shown = run_on_terminal("agents", "import", str(source))
    assert shown.returncode == 0, shown.stderr
    assert pty_forbidden(shown.stdout) == [] and b"\x1b" not in shown.raw_stdout
    assert "evil␛]52;c;aGFja2Vk␇" in shown.stdout
    agent = load_agents(default_directories()).get("guest")
    assert agent.model == "evil\x1b]52;c;aGFja2Vk\x07\n[params]\nseed = 2\n/llama3.2"  # kept exactly
    assert dict(agent.params) == {"max_tokens": 4000}, "a key from a comment line became TOML"
    listed = run_on_terminal("agents", "list")
    assert pty_forbidden(listed.stdout) == [] and b"\x1b" not in listed.raw_stdout
    assert "Guest ␛]0;PWNED␇ \\u{009b}2J [@click=app.quit]x[/]" in listed.stdout


def test_a_hostile_exception_from_an_agent_is_inert_on_a_terminal(ollama_server: OllamaServer, config_dir):
    user_agent(config_dir, name="loud", program="raise ValueError('\\x1b]52;c;aGFja2Vk\\x07 \\x1b[2J [/]')\n")
    shown = run_on_terminal("ask", "-a", "loud", "hi")
    assert shown.returncode == 1
    assert pty_forbidden(shown.stderr) == [] and b"\x1b" not in shown.raw_stderr
    assert "agent.py:1: ValueError: ␛]52;c;aGFja2Vk␇ ␛[2J [/]" in shown.stderr


# -- who could have written a Python agent (issue 27, item 1) ---------------------------------------------------

STRANGER = 4242  # a uid no test user has: the agent's "someone else"


def _as_stranger(path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root (the suite runs as root)")
    os.chown(path, STRANGER, STRANGER)


def _stranger_program(folder: Path) -> Path:
    (folder / "agent.py").chmod(0o644)
    _as_stranger(folder / "agent.py")
    return folder / "agent.py"


def _stranger_program_in_an_open_folder(folder: Path) -> Path:
    folder.chmod(0o777)
    return _stranger_program(folder)


def _open_folder(folder: Path) -> Path:
    folder.chmod(0o777)
    return folder


def _group_folder(folder: Path) -> Path:
    folder.chmod(0o775)
    return folder


def _stranger_folder(folder: Path) -> Path:
    _as_stranger(folder)
    return folder


def _open_agents_folder(folder: Path) -> Path:
    folder.parent.chmod(0o777)
    return folder.parent


def _open_helper(folder: Path) -> Path:
    helper = folder / "helper.py"
    helper.write_text("PROMPT = 'hi'\n")
    helper.chmod(0o666)
    return helper


def _stranger_package(folder: Path) -> Path:
    package = folder / "lib"
    package.mkdir(mode=0o700)
    module = package / "__init__.py"
    module.write_text("")
    module.chmod(0o644)
    _as_stranger(module)
    return module


@pytest.mark.parametrize(("make", "said"), [
    (_stranger_program, "this program belongs to uid 4242, not to you"),
    (_stranger_program_in_an_open_folder, "this program belongs to uid 4242, not to you"),
    (_open_folder, "others can change the folder {path} (anyone may write it: mode 0777)"),
    (_group_folder, "others can change the folder {path} (its group may write it: mode 0775)"),
    (_stranger_folder, "the folder {path} belongs to uid 4242, not to you"),
    (_open_agents_folder, "others can change the folder {path} (anyone may write it: mode 0777)"),
    (_open_helper, "others can change the file {path} (anyone may write it: mode 0666)"),
    (_stranger_package, "the file {path} belongs to uid 4242, not to you"),
], ids=["stranger-program", "stranger-program-open-folder", "open-folder", "group-folder", "stranger-folder",
        "open-agents-folder", "open-helper", "stranger-package"])
def test_a_python_agent_someone_else_could_have_written_never_runs(ollama_server: OllamaServer, config_dir, make,
                                                                   said):
    folder = user_agent(config_dir, name="shared")
    path = make(folder)
    reason = said.format(path=path)
    ollama_server.script(Scripted(text="The stranger's code ran."))
    asked = run_salon("ask", "-a", "shared", "hi")
    assert asked.returncode == 1
    assert reason in asked.stderr and "only if you alone could have written it" in asked.stderr
    assert ("chmod go-w" if "others can change" in reason else "chown") in asked.stderr
    assert ollama_server.requests == [] and "ran" not in asked.stdout
    checked = run_salon("agents", "validate")
    assert checked.returncode == 1
    assert f"{folder / 'agent.py'}: {reason}" in checked.stdout
    listed = run_salon("agents", "list")
    assert "shared " not in listed.stdout and reason in listed.stderr


def test_a_python_agent_only_its_user_can_write_runs(ollama_server: OllamaServer, config_dir):
    folder = user_agent(config_dir, name="mine")
    folder.chmod(0o755)
    (config_dir / "agents").chmod(0o755)
    (folder / "agent.py").chmod(0o644)  # readable by others is fine: only writing matters
    (folder / "helper.py").write_text("")
    ollama_server.script(Scripted(text=SOCRATES), Scripted(text=PLATO))
    result = run_salon("ask", "-a", "mine", "What is virtue?")
    assert (result.returncode, result.stdout) == (0, BOTH), result.stderr


# -- importing (issue 27, items 3, 4 and 14) ----------------------------------------------------------------------


@pytest.mark.parametrize("program", [None, SOCRATES_THEN_PLATO], ids=["metadata", "python"])
def test_importing_a_folder_named_like_a_bundled_agent_needs_force_and_says_what_it_shadows(
        ollama_server: OllamaServer, config_dir, tmp_path, program):
    source = write_folder(tmp_path / "downloads", "assistant", local_metadata(), program)
    bundled = ROOT / "agents" / "assistant.toml"
    refused = run_salon("agents", "import", "--yes", str(source))
    assert refused.returncode == 1
    assert f"'assistant' is the id of a bundled agent (Assistant, {bundled})" in refused.stderr
    assert "as the default agent too" in refused.stderr and "--force" in refused.stderr
    assert not (config_dir / "agents").exists()
    ollama_server.script(Scripted(text="The bundled persona."))
    assert run_salon("ask", "hi").stdout == "The bundled persona.\n"
    assert ollama_server.requests[0]["messages"][0]["content"] != "respond as though you were Socrates"
    forced = run_salon("agents", "import", "--yes", "--force", str(source))
    assert forced.returncode == 0, forced.stderr
    assert f"note: it shadows the bundled agent {bundled}, as the default agent too" in forced.stdout
    listed = run_salon("agents", "list")
    assert "[default, overrides bundled" in listed.stdout


@pytest.mark.parametrize("name", sorted(LINE_BREAKS))
def test_a_line_break_in_a_name_cannot_fake_a_line_of_list_or_validate(config_dir, tmp_path, name):
    hostile = LINE_BREAKS[name]
    metadata = local_metadata()
    metadata["details"]["display_name"] = hostile
    metadata["details"]["agent"]["defaults"]["model"] = f"llama3.2{hostile}"
    source = write_folder(tmp_path / "downloads", "guest", metadata)
    imported = run_salon("agents", "import", str(source))
    assert imported.returncode == 0, imported.stderr
    for command in (("agents", "list"), ("agents", "validate")):
        for shown, where in ((run_salon(*command).stdout, "pipe"), (run_on_terminal(*command).stdout, "terminal")):
            lines = shown.replace("\r\n", "\n").split("\n")
            assert not any(line.startswith("ok   /home/u/") for line in lines), (command, where, shown)
            assert not any(c in shown for c in "\u2028\x85"), (command, where)
            guest = [line for line in lines if "guest" in line]
            assert len(guest) == 1 and "Safe" in guest[0] and "safe.toml  (safe: Safe)" in guest[0], shown
    # The name itself is kept exactly: only its display keeps to one line.
    assert load_agents(default_directories()).get("guest").name == hostile


def test_an_import_too_big_to_be_an_agent_is_refused_saying_the_limit(config_dir, tmp_path):
    metadata = local_metadata(description="x" * 10_000_000)
    source = write_folder(tmp_path / "downloads", "huge", metadata)
    refused = run_salon("agents", "import", str(source))
    assert refused.returncode == 1
    assert f"{source / 'metadata.json'}: is 10,00" in refused.stderr and "more than the 262,144" in refused.stderr
    assert not (config_dir / "agents").exists()
    # Put in place by hand, it is reported by `agents list` (quickly: never read past the limit); the rest load.
    write_folder(config_dir / "agents", "huge", metadata)
    listed = run_salon("agents", "list")
    assert "assistant" in listed.stdout and "huge" not in listed.stdout
    assert "more than the 262,144" in listed.stderr
    long_name = local_metadata()
    long_name["details"]["display_name"] = "n" * 5000
    named = run_salon("agents", "import", str(write_folder(tmp_path / "downloads", "named", long_name)))
    assert named.returncode == 1 and "'details.display_name' is 5,000 characters long" in named.stderr
    program = write_folder(tmp_path / "downloads", "bulky", local_metadata(), SOCRATES_THEN_PLATO)
    (program / "data.bin").write_bytes(b"\0" * (11 * 1024 * 1024))
    bulky = run_salon("agents", "import", "--yes", str(program))
    assert bulky.returncode == 1 and "more than the 10,485,760 an agent folder may bring" in bulky.stderr
    assert not (config_dir / "agents" / "bulky").exists()

"""Issue 12 on the command line: every command that prints text Salon does not control writes it inertly on a
terminal (a pseudo-terminal here, read back byte for byte) and exactly through a pipe.

The reply, the prompt (and so the title), a server's model names and error, an agent file and an imported
conversation carry the hostile corpus of ``tests/hostile.py``.
"""

from __future__ import annotations

import json

import pytest
import tomli_w

from salon.store import Store
from tests.hostile import CORPUS, DONE_WHEN, LONE_SURROGATE, LONG_LINE, SPLIT_PAIR, pty_forbidden
from tests.servers.ollama import OllamaServer, Scripted
from tests.terminal_run import run_in_pipe, run_on_terminal

REPLY = "\n\n".join(CORPUS.values()) + "\n\n" + LONG_LINE
PROMPT = "find \x1b]2;TITLE\x07 [/INST] \u202eevil\u202c <br>"
SHOWN = ("␛]52;c;aGFja2Vk␇", "␛]2;WINDOW TITLE␛\\", "␛[2J␛[H␛[?25l␛[31m", "\\u{009b}2J", "\\u{202e}evil\\u{202c}",
         "a␀b␡c␈d␍X", "[@click=app.quit]x[/]", "[/INST]", "Vec<String>", "<details>", "<</SYS>>")
"""How pieces of the corpus look on a terminal: visible, inert, literal."""


def _pieces(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def _assert_inert(run_output: str, raw: bytes) -> None:
    assert pty_forbidden(run_output) == [], "a control character reached the terminal"
    assert b"\x1b" not in raw


@pytest.fixture
def hostile_history(ollama_server: OllamaServer, data_dir) -> str:
    """One conversation whose prompt and reply carry the corpus (asked through a pipe); returns its id."""
    ollama_server.script(Scripted(tokens=_pieces(REPLY, 5)))
    asked = run_in_pipe("ask", PROMPT)
    assert asked.returncode == 0, asked.stderr
    with Store.open(data_dir) as store:
        (conversation,) = store.conversations()
    return conversation.id


# -- salon ask ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["final", "stream"])
def test_ask_on_a_terminal_shows_every_escape_inertly(ollama_server: OllamaServer, stream: bool):
    ollama_server.script(Scripted(tokens=_pieces(REPLY, 5)))  # escapes cut between chunks
    run = run_on_terminal("ask", *(["--stream"] if stream else []), "hi")
    assert run.returncode == 0, run.stderr
    _assert_inert(run.stdout, run.raw_stdout)
    for piece in SHOWN:
        assert piece in run.stdout


@pytest.mark.parametrize("stream", [False, True], ids=["final", "stream"])
def test_ask_through_a_pipe_is_byte_for_byte_what_was_received(ollama_server: OllamaServer, stream: bool):
    ollama_server.script(Scripted(tokens=_pieces(REPLY, 5)))
    run = run_in_pipe("ask", *(["--stream"] if stream else []), "hi")
    assert run.returncode == 0, run.stderr
    assert run.stdout == (REPLY + "\n").encode()


def test_ask_raw_writes_the_bytes_on_a_terminal_when_asked(ollama_server: OllamaServer):
    ollama_server.script(Scripted(text=CORPUS["osc52"] + " copied"))
    run = run_on_terminal("ask", "--raw", "hi")
    assert run.returncode == 0, run.stderr
    assert b"\x1b]52;c;aGFja2Vk\x07 copied" in run.raw_stdout


def test_a_multi_step_agent_name_heading_is_inert(ollama_server: OllamaServer, config_dir):
    agents = config_dir / "agents"
    agents.mkdir()
    (agents / "pair.toml").write_text(tomli_w.dumps({
        "name": "Pair", "model": "ollama/llama3.2",
        "steps": [{"name": "One \x1b]2;T\x07"}, {"name": "Two \u202eowt"}]}))
    ollama_server.script(Scripted(text="first"), Scripted(text="second"))
    run = run_on_terminal("ask", "-a", "pair", "hi")
    assert run.returncode == 0, run.stderr
    _assert_inert(run.stdout, run.raw_stdout)
    assert "## One ␛]2;T␇" in run.stdout and "## Two \\u{202e}owt" in run.stdout


# -- salon history -----------------------------------------------------------------------------------------------


def test_history_show_on_a_terminal_and_through_a_pipe(hostile_history: str):
    shown = run_on_terminal("history", "show", hostile_history)
    assert shown.returncode == 0, shown.stderr
    _assert_inert(shown.stdout, shown.raw_stdout)
    for piece in (*SHOWN, "find ␛]2;TITLE␇ [/INST] \\u{202e}evil\\u{202c} <br>"):
        assert piece in shown.stdout
    piped = run_in_pipe("history", "show", hostile_history)
    # The Markdown transcript ends each message at its last visible character.
    assert REPLY.rstrip().encode() in piped.stdout and PROMPT.encode() in piped.stdout


@pytest.mark.parametrize("command", [("list",), ("search", "find")], ids=["list", "search"])
def test_history_titles_on_a_terminal_and_through_a_pipe(hostile_history: str, command: tuple[str, ...]):
    shown = run_on_terminal("history", *command)
    assert shown.returncode == 0, shown.stderr
    _assert_inert(shown.stdout, shown.raw_stdout)
    assert "find ␛]2;TITLE␇ [/INST] \\u{202e}evil\\u{202c}" in shown.stdout
    piped = run_in_pipe("history", *command)
    assert "find \x1b]2;TITLE\x07 [/INST] \u202eevil\u202c".encode() in piped.stdout


def test_the_markdown_export_keeps_html_and_everything_else_exactly(hostile_history: str, tmp_path):
    piped = run_in_pipe("history", "export", hostile_history)
    assert piped.returncode == 0, piped.stderr
    assert REPLY.rstrip().encode() in piped.stdout
    written = tmp_path / "out.md"
    assert run_on_terminal("history", "export", hostile_history, "-o", str(written)).returncode == 0
    assert REPLY.rstrip().encode() in written.read_bytes()  # a file is exact, even when the command ran on a terminal


def test_an_imported_conversation_with_a_lone_surrogate_is_kept_with_a_replacement(data_dir, tmp_path):
    export = {"format": "salon.conversations", "version": 1, "conversations": [{
        "id": "conv_odd", "title": "half " + LONE_SURROGATE + " a pair " + "".join(SPLIT_PAIR), "agent_id": "x",
        "created_at": 1_700_000_000, "messages": [
            {"id": "msg_a", "role": "user", "text": "odd " + LONE_SURROGATE, "created_at": 1_700_000_000}]}]}
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(export))  # JSON escapes: "\ud800"
    imported = run_in_pipe("history", "import", str(path))
    assert imported.returncode == 0, imported.stderr
    listed = run_in_pipe("history", "list")
    assert "half \ufffd a pair 😀".encode() in listed.stdout
    with Store.open(data_dir) as store:
        assert store.messages("conv_odd")[0].text == "odd \ufffd"


# -- salon models, salon agents ------------------------------------------------------------------------------------


def test_models_named_by_the_server_on_a_terminal_and_through_a_pipe(ollama_server: OllamaServer):
    ollama_server.add_model("evil\x1b]52;c;aGFja2Vk\x07\x1b[2J\u202e")
    shown = run_on_terminal("models")
    assert shown.returncode == 0, shown.stderr
    _assert_inert(shown.stdout, shown.raw_stdout)
    assert "ollama/evil␛]52;c;aGFja2Vk␇␛[2J\\u{202e}" in shown.stdout
    piped = run_in_pipe("models")
    assert "ollama/evil\x1b]52;c;aGFja2Vk\x07\x1b[2J\u202e".encode() in piped.stdout


def test_agents_from_shared_files_on_a_terminal_and_through_a_pipe(config_dir):
    agents = config_dir / "agents"
    agents.mkdir()
    name = "Guest \x1b]0;PWNED\x07 \x9b2J [@click=app.quit]x[/]"
    (agents / "guest.toml").write_text(tomli_w.dumps({"name": name, "model": "ollama/llama3.2",
                                                      "system": "Be \x1b[?25l hidden"}))
    shown = run_on_terminal("agents", "list")
    assert shown.returncode == 0, shown.stderr
    _assert_inert(shown.stdout, shown.raw_stdout)
    assert "Guest ␛]0;PWNED␇ \\u{009b}2J [@click=app.quit]x[/]" in shown.stdout
    detail = run_on_terminal("agents", "show", "guest")
    _assert_inert(detail.stdout, detail.raw_stdout)
    assert "system: Be ␛[?25l hidden" in detail.stdout
    assert name.encode() in run_in_pipe("agents", "list").stdout


# -- standard error ------------------------------------------------------------------------------------------------


def test_a_servers_error_on_standard_error_is_inert_on_a_terminal(ollama_server: OllamaServer):
    ollama_server.script(Scripted(status=400, error="bad \x1b]52;c;aGFja2Vk\x07 [/] \x1b[2J"))
    run = run_on_terminal("ask", "hi")
    assert run.returncode == 1
    _assert_inert(run.stderr, run.raw_stderr)
    assert "salon: Ollama refused the request (400): bad ␛]52;c;aGFja2Vk␇ [/] ␛[2J" in run.stderr
    ollama_server.script(Scripted(status=400, error="bad \x1b]52;c;aGFja2Vk\x07"))
    piped = run_in_pipe("ask", "hi")
    assert b"bad \x1b]52;c;aGFja2Vk\x07" in piped.stderr  # through a pipe, exactly what the server said


def test_a_salon_error_line_quoting_a_file_is_inert_on_a_terminal(config_dir):
    run = run_on_terminal("ask", "-a", "no\x1b]2;such\x07agent", "hi")
    assert run.returncode == 1
    _assert_inert(run.stderr, run.raw_stderr)
    assert "no␛]2;such␇agent" in run.stderr


# -- Unicode that JSON allows --------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["final", "stream"])
def test_lone_and_split_surrogates_are_printed_and_kept(ollama_server: OllamaServer, data_dir, stream: bool):
    ollama_server.script(Scripted(tokens=["Smile ", SPLIT_PAIR[0], SPLIT_PAIR[1] + " and ", LONE_SURROGATE,
                                          " done."]))
    run = run_in_pipe("ask", *(["--stream"] if stream else []), "hi")
    assert run.returncode == 0, run.stderr
    assert b"Traceback" not in run.stderr
    assert run.stdout == "Smile 😀 and \ufffd done.\n".encode()
    with Store.open(data_dir) as store:
        (conversation,) = store.conversations()
        reply = store.messages(conversation.id)[-1]
    assert (reply.status, reply.text) == ("complete", "Smile 😀 and \ufffd done.")


def test_a_prompt_argument_that_is_not_utf8_is_kept(ollama_server: OllamaServer, data_dir):
    ollama_server.script(Scripted(text="Noted."))
    run = run_in_pipe("ask", "caf\udce9")  # the byte 0xE9 of a Latin-1 terminal, as Python passes it on
    assert run.returncode == 0, run.stderr
    with Store.open(data_dir) as store:
        (conversation,) = store.conversations()
        assert store.messages(conversation.id)[0].text == "caf\ufffd"


# -- Done when ----------------------------------------------------------------------------------------------------


def test_done_when_the_reply_shows_literally_in_ask_and_history_show(ollama_server: OllamaServer):
    ollama_server.script(Scripted(tokens=_pieces(DONE_WHEN, 3)))
    for run in (run_on_terminal("ask", "--stream", "show me"), run_on_terminal("history", "show")):
        assert run.returncode == 0, run.stderr
        _assert_inert(run.stdout, run.raw_stdout)
        for piece in ("Vec<String>", "<details>\nkept\n</details>", "[@click=app.quit]click me[/]",
                      "␛]52;c;aGFja2Vk␇ end."):
            assert piece in run.stdout

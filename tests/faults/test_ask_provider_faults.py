"""``salon ask`` when the model's server misbehaves: the prompt and any partial reply are kept, the message says
what happened and what to do, the exit code says it failed, and the next command works.

Every fault is staged for real: the real ``ollama`` client in a real ``salon`` process against the loopback
Ollama test server told to fail in one particular way.
"""

from __future__ import annotations

import pytest

from tests.conftest import ClosedPort
from tests.faults.conftest import ENV_KEY, Home, next_command_works, salon
from tests.servers.ollama import OllamaServer, Scripted
from tests.servers.openai import OpenAIServer

TEXT = "Virtue is a kind of knowledge, and knowledge can be taught, or so it seems."


def _kept_failure(home: Home, prompt: str) -> tuple[str, str, str | None]:
    """(status, text, error) of the one reply kept, after checking the prompt was kept before it."""
    asked, reply = home.only_exchange()
    assert (asked.role, asked.text, asked.status) == ("user", prompt, "complete")
    assert reply.role == "assistant"
    return reply.status, reply.text, reply.error


# -- the server cannot be reached ---------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "said"), [
    pytest.param("closed-port", "connection refused", id="ollama-not-running"),
    pytest.param("http://salon-no-such-host.invalid:11434", "the host name does not resolve", id="dns-fails"),
])
def test_an_unreachable_ollama_keeps_the_prompt_and_says_how_to_start_or_point_at_it(
        home: Home, ollama_server: OllamaServer, closed_port: ClosedPort, host: str, said: str) -> None:
    if host == "closed-port":
        host = closed_port.host
    done = salon("ask", "Anyone there?", OLLAMA_HOST=host)

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith("salon: cannot reach Ollama at http://")
    assert said in done.stderr
    assert "`ollama serve`" in done.stderr and "OLLAMA_HOST" in done.stderr
    status, text, error = _kept_failure(home, "Anyone there?")
    assert (status, text) == ("failed", "") and said in error
    next_command_works(ollama_server, home)


def test_a_host_that_answers_but_is_not_ollama_is_named_as_such(home: Home, ollama_server: OllamaServer) -> None:
    # The usual mistake: OLLAMA_HOST pointing at another local web server (here an OpenAI-compatible one).
    with OpenAIServer() as other:
        done = salon("ask", "Hello?", OLLAMA_HOST=other.url)
        assert [r.path for r in other.requests] == ["/api/chat"]

    assert (done.returncode, done.stdout) == (1, "")
    assert f"cannot reach Ollama at {other.url}" in done.stderr
    assert "it answers, but not as Ollama" in done.stderr
    assert _kept_failure(home, "Hello?")[0] == "failed"
    next_command_works(ollama_server, home)


# -- the server refuses the request -------------------------------------------------------------------------


def test_a_model_that_is_not_there_says_how_to_download_it(home: Home, ollama_server: OllamaServer) -> None:
    done = salon("ask", "--model", "ollama/mistral-nemo", "Hello?")

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == ("salon: model 'mistral-nemo' not found. Download it with `ollama pull mistral-nemo`.\n")
    status, _, error = _kept_failure(home, "Hello?")
    assert status == "failed" and "ollama pull mistral-nemo" in error
    next_command_works(ollama_server, home)


def test_thinking_asked_of_a_model_without_it_says_which_setting_to_remove(
        home: Home, ollama_server: OllamaServer) -> None:
    (home.config_dir / "agents").mkdir()
    (home.config_dir / "agents" / "deep.toml").write_text(
        'name = "Deep"\nmodel = "ollama/llama3.2"\n[params]\nthink = true\n', encoding="utf-8")
    done = salon("ask", "--agent", "deep", "Think hard")

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == ("salon: model 'llama3.2' does not support thinking; remove `think` from the agent's "
                           "[params].\n")
    assert ollama_server.requests == []  # refused before anything was sent to the model
    assert _kept_failure(home, "Think hard")[0] == "failed"
    # The same agent on a model that can think works.
    ollama_server.script(Scripted(text="Thought.", thinking="Hmm."))
    again = salon("ask", "--agent", "deep", "--model", "ollama/qwen3", "Think hard")
    assert (again.returncode, again.stdout) == (0, "Thought.\n"), again.stderr
    assert ollama_server.requests[-1]["think"] is True


# -- the reply breaks off -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("fault", "said"), [
    pytest.param(dict(error_after=4, error="CUDA error: out of memory"), "Ollama stopped the reply: CUDA error: "
                 "out of memory", id="error-line"),
    pytest.param(dict(error_after=4, error="server busy, please try again"), "Ollama stopped the reply: server "
                 "busy", id="busy-line-after-text"),
    pytest.param(dict(cut_after=4), "was cut mid-reply", id="connection-cut"),
    pytest.param(dict(malformed_after=4), "sent something that is not Ollama's API", id="malformed-ndjson"),
    pytest.param(dict(stall_after=4), "no data from the server for 1 s", id="stall"),
])
def test_a_reply_that_breaks_off_keeps_its_partial_text_marked_failed(
        home: Home, ollama_server: OllamaServer, fault: dict, said: str) -> None:
    home.write_config("[ollama]\nread_timeout = 1\n")
    ollama_server.script(Scripted(text=TEXT, **fault))
    done = salon("ask", "--stream", "What is virtue?")

    partial = "Virtue is a kind"
    assert done.returncode == 1
    assert done.stdout == partial + "\n"  # what arrived was shown, once
    first, hint = done.stderr.splitlines()
    assert first.startswith("salon: ") and said in first
    assert hint == ("salon: the partial reply above is saved (`salon history show`); run the same command again "
                    "to retry")
    if "stall" in said:
        # Ended by the read timeout (it says so), not by the server's 30 s stall running out.
        assert "read_timeout" in done.stderr
    status, text, error = _kept_failure(home, "What is virtue?")
    assert (status, text) == ("failed", partial) and said in error
    # Text had arrived, so nothing was retried: a retry would print and keep the start of the reply twice.
    assert len(ollama_server.requests) == 1
    next_command_works(ollama_server, home)


# -- the server is busy -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [503, 500])
def test_a_busy_server_is_retried_before_any_text_and_the_reply_is_kept_once(
        home: Home, ollama_server: OllamaServer, status: int) -> None:
    ollama_server.script(Scripted(status=status, error="server busy"), Scripted(status=status, error="server busy"),
                         Scripted(text=TEXT))
    done = salon("ask", "What is virtue?")

    assert (done.returncode, done.stdout, done.stderr) == (0, TEXT + "\n", "")
    assert len(ollama_server.requests) == 3
    asked, reply = home.only_exchange()  # one prompt, one reply: the retries left nothing behind
    assert (asked.text, reply.text, reply.status) == ("What is virtue?", TEXT, "complete")


def test_a_server_that_stays_busy_fails_once_with_a_try_again_message(
        home: Home, ollama_server: OllamaServer) -> None:
    ollama_server.set_default(Scripted(status=503, error="server busy, please try again. maximum pending "
                                                          "requests exceeded"))
    done = salon("ask", "What is virtue?")

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith("salon: Ollama at http://127.0.0.1:") and "is busy (503" in done.stderr
    assert "try again shortly" in done.stderr
    assert len(ollama_server.requests) == 4  # the first try and three retries with growing waits
    status, text, _ = _kept_failure(home, "What is virtue?")
    assert (status, text) == ("failed", "")
    ollama_server.set_default(Scripted())
    next_command_works(ollama_server, home)


# -- keys in what a server says -----------------------------------------------------------------------------


def test_a_server_error_quoting_a_key_shows_and_keeps_no_key(home: Home, ollama_server: OllamaServer) -> None:
    # A proxy in front of Ollama that echoes the request's credentials in its error (it happens).
    ollama_server.script(Scripted(text=TEXT, error_after=2, error=f"upstream refused key {ENV_KEY}"))
    done = salon("ask", "--stream", "What is virtue?")  # `salon` fails the test if stdout/stderr show the key

    assert done.returncode == 1
    assert "upstream refused key" in done.stderr
    status, _, error = _kept_failure(home, "What is virtue?")
    assert status == "failed" and "upstream refused key [REDACTED]" in error


# -- the same faults from a cloud provider, through litellm ------------------------------------------------


@pytest.mark.parametrize(("fault", "said"), [
    pytest.param(dict(malformed_after=4), "openai sent a reply Salon could not read", id="malformed-sse"),
    pytest.param(dict(error_after=4, error=f"overloaded; key {ENV_KEY} throttled"), "openai stopped the reply: "
                 "overloaded; key *** throttled", id="error-event-quoting-the-key"),
    pytest.param(dict(cut_after=4), "the connection to openai was cut mid-reply", id="connection-cut"),
])
def test_a_cloud_reply_that_breaks_off_keeps_its_partial_text_marked_failed(
        home: Home, fault: dict, said: str) -> None:
    from tests.servers.openai import Scripted as CloudScripted

    with OpenAIServer(api_key=ENV_KEY) as server:
        home.write_config(f'[providers.openai]\napi_base = "{server.api_base}"\n')
        server.script(CloudScripted(text=TEXT, **fault))
        done = salon("ask", "--stream", "--model", "openai/gpt-4o-mini", "What is virtue?")
        assert len(server.chat_requests) == 1  # text had arrived: never retried

    partial = "Virtue is a kind"
    assert (done.returncode, done.stdout) == (1, partial + "\n"), done.stderr
    first, hint = done.stderr.splitlines()
    assert first.startswith(f"salon: {said}"), first
    assert hint.startswith("salon: the partial reply above is saved")
    status, text, error = _kept_failure(home, "What is virtue?")
    assert (status, text) == ("failed", partial) and error.startswith(said.split(";")[0])


def test_a_busy_cloud_server_is_retried_before_any_text_and_the_reply_is_kept_once(home: Home) -> None:
    from tests.servers.openai import Scripted as CloudScripted

    with OpenAIServer(api_key=ENV_KEY) as server:
        home.write_config(f'[providers.openai]\napi_base = "{server.api_base}"\n')
        server.script(CloudScripted(status=503, error="The engine is currently overloaded."),
                      CloudScripted(text=TEXT))
        done = salon("ask", "--model", "openai/gpt-4o-mini", "What is virtue?")
        assert len(server.chat_requests) == 2

    assert (done.returncode, done.stdout, done.stderr) == (0, TEXT + "\n", "")
    asked, reply = home.only_exchange()
    assert (asked.text, reply.text, reply.status) == ("What is virtue?", TEXT, "complete")

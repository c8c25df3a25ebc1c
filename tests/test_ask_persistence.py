"""``salon ask`` keeps every exchange, continues conversations, and never writes a secret down."""

from __future__ import annotations

from pathlib import Path

from salon.store import Store
from tests.conftest import run_salon
from tests.servers.ollama import OllamaServer, Scripted


def _only_conversation(data_dir: Path):
    with Store.open(data_dir, secrets=()) as store:
        (conversation,) = store.conversations()
        return conversation, store.messages(conversation.id)


def test_an_exchange_is_saved_with_agent_model_and_usage(ollama_server: OllamaServer, data_dir: Path) -> None:
    ollama_server.script(Scripted(text="Virtue is knowledge."))
    result = run_salon("ask", "What is virtue?")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Virtue is knowledge.\n"

    conversation, (prompt, reply) = _only_conversation(data_dir)
    assert (conversation.title, conversation.agent_id, conversation.message_count) == (
        "What is virtue?", "assistant", 2)
    assert (prompt.role, prompt.text, prompt.status) == ("user", "What is virtue?", "complete")
    assert (reply.role, reply.text, reply.status) == ("assistant", "Virtue is knowledge.", "complete")
    assert (reply.agent_id, reply.agent_name, reply.model) == ("assistant", "Assistant", "ollama/llama3.2")
    assert (reply.input_tokens, reply.output_tokens, reply.finish_reason) == (26, 3, "stop")  # as the server counted
    assert reply.duration and reply.duration > 0


def test_continue_sends_the_history_of_the_latest_conversation(ollama_server: OllamaServer,
                                                               data_dir: Path) -> None:
    ollama_server.script(Scripted(text="First answer."), Scripted(text="Other topic."),
                         Scripted(text="Second answer."))
    assert run_salon("ask", "First question").returncode == 0
    assert run_salon("ask", "Unrelated question").returncode == 0
    result = run_salon("ask", "--continue", "Follow-up")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Second answer.\n"

    sent = [(m["role"], m["content"]) for m in ollama_server.requests[-1]["messages"] if m["role"] != "system"]
    assert sent == [("user", "Unrelated question"), ("assistant", "Other topic."), ("user", "Follow-up")]
    with Store.open(data_dir, secrets=()) as store:
        latest, older = store.conversations()
        assert [m.text for m in store.messages(latest.id)] == [
            "Unrelated question", "Other topic.", "Follow-up", "Second answer."]
        assert store.message_count(older.id) == 2


def test_conversation_id_continues_a_chosen_one_with_its_agent(ollama_server: OllamaServer,
                                                               data_dir: Path) -> None:
    ollama_server.set_default(Scripted(text="Indeed."))
    assert run_salon("ask", "--agent", "socrates", "Old chat").returncode == 0
    assert run_salon("ask", "Newer chat").returncode == 0
    with Store.open(data_dir, secrets=()) as store:
        old = store.conversations()[1]
    result = run_salon("ask", "--conversation", old.id[5:15], "Back to it")
    assert result.returncode == 0, result.stderr

    request = ollama_server.requests[-1]["messages"]
    assert request[0]["role"] == "system" and "Socrates" in request[0]["content"]  # the conversation's agent
    assert [m["content"] for m in request[1:]] == ["Old chat", "Indeed.", "Back to it"]

    switched = run_salon("ask", "--conversation", old.id, "--agent", "plato", "Now you, Plato")
    assert switched.returncode == 0, switched.stderr
    with Store.open(data_dir, secrets=()) as store:
        assert store.conversation(old.id).agent_id == "plato"
        assert store.messages(old.id)[-1].agent_name == "Plato"


def test_continuing_nothing_is_a_clear_error(ollama_server: OllamaServer, data_dir: Path) -> None:
    result = run_salon("ask", "--continue", "hello")
    assert result.returncode == 1
    assert "no conversation to continue yet" in result.stderr
    missing = run_salon("ask", "--conversation", "conv_doesnotexist", "hello")
    assert missing.returncode == 1 and "no conversation 'conv_doesnotexist'" in missing.stderr
    both = run_salon("ask", "--continue", "--conversation", "x", "hello")
    assert both.returncode == 2 and "not allowed with" in both.stderr
    assert ollama_server.requests == []
    with Store.open(data_dir, secrets=()) as store:
        assert store.conversations() == []


def test_a_failed_reply_keeps_the_prompt_and_the_error(ollama_server: OllamaServer, data_dir: Path) -> None:
    ollama_server.script(Scripted(text="one two three four five", error_after=2, error="GPU fell over"))
    result = run_salon("ask", "--stream", "Will this work?")
    assert result.returncode == 1
    _, (prompt, reply) = _only_conversation(data_dir)
    assert prompt.text == "Will this work?"
    assert (reply.status, reply.text) == ("failed", "one two")
    assert "GPU fell over" in reply.error


def test_the_prompt_is_kept_when_ollama_is_not_running(data_dir: Path) -> None:
    result = run_salon("ask", "Anyone there?", OLLAMA_HOST="127.0.0.1:9")
    assert result.returncode == 1 and "cannot reach Ollama" in result.stderr
    _, (prompt, reply) = _only_conversation(data_dir)
    assert prompt.text == "Anyone there?"
    assert reply.status == "failed" and "cannot reach Ollama" in reply.error


def test_a_multi_step_agent_saves_each_reply_in_order(ollama_server: OllamaServer, data_dir: Path) -> None:
    ollama_server.script(Scripted(text="A question back."), Scripted(text="The Forms."))
    result = run_salon("ask", "--agent", "socrates-then-plato", "What is justice?")
    assert result.returncode == 0, result.stderr
    _, messages = _only_conversation(data_dir)
    assert [(m.role, m.agent_name, m.text) for m in messages] == [
        ("user", None, "What is justice?"), ("assistant", "Socrates", "A question back."),
        ("assistant", "Plato", "The Forms.")]


def test_data_dir_flag_is_honoured_by_ask(ollama_server: OllamaServer, data_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    assert run_salon("ask", "--data-dir", str(elsewhere), "hello").returncode == 0
    assert (elsewhere / "salon.db").exists()
    with Store.open(data_dir, secrets=()) as store:
        assert store.conversations() == []
    with Store.open(elsewhere, secrets=()) as store:
        assert store.latest_conversation().title == "hello"


def test_planted_api_keys_never_reach_the_database_or_exports(ollama_server: OllamaServer, data_dir: Path,
                                                              config_dir: Path, tmp_path: Path) -> None:
    env_key, config_key, named_key = "sk-test-PLANTED", "Bearer cfg-PLANTED-token", "named-PLANTED-secret"
    (config_dir / "config.toml").write_text(
        '[providers.corp]\napi_key_env = "CORP_LLM"\n'
        f'headers = {{ Authorization = "{config_key}" }}\n')
    secrets = {"OPENAI_API_KEY": env_key, "CORP_LLM": named_key}
    # The echoing server repeats the prompt, so each key comes back in a reply too; the last fails with one.
    ollama_server.script(Scripted(), Scripted(), Scripted(text="partial reply here", error_after=1,
                                                          error=f"invalid key {named_key}"))
    prompt = f"my keys: {env_key} and {config_key} and {named_key}"
    assert run_salon("ask", "--stream", prompt, **secrets).returncode == 0
    assert run_salon("ask", "--continue", f"again {env_key}", **secrets).returncode == 0
    assert run_salon("ask", "--continue", "fail now", **secrets).returncode == 1
    assert "PLANTED" in ollama_server.requests[0]["messages"][-1]["content"]  # the model did get the prompt

    exports = tmp_path / "exports"
    exports.mkdir()
    for name, fmt in (("all.json", "json"), ("all.md", "markdown")):
        result = run_salon("history", "export", "--all", "-f", fmt, "-o", str(exports / name), **secrets)
        assert result.returncode == 0, result.stderr
    shown = run_salon("history", "show", **secrets).stdout
    assert "[REDACTED]" in shown and "invalid key [REDACTED]" in shown

    written = [*data_dir.iterdir(), *exports.iterdir()]
    assert any(p.name == "salon.db" for p in written)
    for path in written:
        content = path.read_bytes().lower()
        assert b"planted" not in content, f"a planted key reached {path}"
    assert "planted" not in shown.lower()

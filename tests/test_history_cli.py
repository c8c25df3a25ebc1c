"""``salon history`` as a user runs it (a real subprocess), and the export/import round trip behind it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from salon.reply import Reply, Usage
from salon.store import SCHEMA_VERSION, Conversation, Store
from salon.store.transcript import TranscriptError, read_json, write_json, write_markdown
from tests.conftest import run_salon


def _seed(data_dir: Path) -> tuple[str, str]:
    """Two conversations: a finished exchange with thinking and usage, and one whose reply was cut off."""
    with Store.open(data_dir, secrets=()) as store:
        first = store.create_conversation("socrates")
        store.add_user_message(first.id, "What is virtue?")
        store.start_reply(first.id, "msg_000000000000000000000001", agent_id="socrates", agent_name="Socrates",
                          model="ollama/llama3.2")
        store.finish_reply("msg_000000000000000000000001",
                           Reply(text="Can virtue be **taught**?", thinking="Answer with a question.",
                                 model="ollama/llama3.2", usage=Usage(26, 7), finish_reason="stop",
                                 time_to_first_token=0.2, duration=1.25, tokens_per_second=20.0), "complete")
        second = store.create_conversation("plato")
        store.add_user_message(second.id, "Describe the cave")
        store.start_reply(second.id, "msg_000000000000000000000002", agent_id="plato", agent_name="Plato",
                          model="ollama/qwen3")
        store.finish_reply("msg_000000000000000000000002", Reply(text="Prisoners see shadows"), "interrupted")
        return first.id, second.id


def test_list_shows_conversations_newest_first(data_dir: Path) -> None:
    first, second = _seed(data_dir)
    result = run_salon("history", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(second[:15]) and lines[0].endswith("Describe the cave") and "plato" in lines[0]
    assert lines[1].startswith(first[:15]) and lines[1].endswith("What is virtue?")

    as_json = [json.loads(line) for line in run_salon("history", "list", "--json").stdout.splitlines()]
    assert [(c["id"], c["messages"]) for c in as_json] == [(second, 2), (first, 2)]


def test_list_keeps_its_columns_in_line_with_a_long_agent_id(data_dir: Path) -> None:
    with Store.open(data_dir, secrets=()) as store:
        store.add_user_message(store.create_conversation("a-persona-with-a-very-long-id").id, "Long one")
        store.add_user_message(store.create_conversation("plato").id, "Short one")
    lines = run_salon("history", "list").stdout.splitlines()
    assert [line.index("Short one") for line in lines if "Short one" in line] == \
        [line.index("Long one") for line in lines if "Long one" in line]


def test_list_when_there_is_nothing_yet() -> None:
    result = run_salon("history", "list")
    assert (result.returncode, result.stdout) == (0, "")
    assert "no conversations yet" in result.stderr


def test_show_prints_a_conversation_with_agent_model_and_usage(data_dir: Path) -> None:
    first, _ = _seed(data_dir)
    shown = run_salon("history", "show", first[5:14], "--thinking")
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert out.startswith("# What is virtue?\n")
    assert "## You ·" in out and "## Socrates · ollama/llama3.2 ·" in out
    assert "Can virtue be **taught**?" in out
    assert "26 in / 7 out tokens · 20.0 tok/s · 1.25 s" in out
    assert "Answer with a question." in out

    latest = run_salon("history", "show").stdout
    assert latest.startswith("# Describe the cave") and "Prisoners see shadows" in latest
    assert "interrupted" in latest

    missing = run_salon("history", "show", "nosuchid")
    assert missing.returncode == 1 and "no conversation 'nosuchid'" in missing.stderr


def test_search_across_conversations(data_dir: Path) -> None:
    first, second = _seed(data_dir)
    found = run_salon("history", "search", "virtu")
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines()[0].startswith(first[:15])
    assert "you: What is [virtue]?" in found.stdout and "reply: Can [virtue] be" in found.stdout
    assert second[:15] not in found.stdout

    nothing = run_salon("history", "search", "NEAR(", "AND")
    assert nothing.returncode == 1 and "nothing matches" in nothing.stderr


def test_search_marks_stay_readable_in_text_with_brackets(data_dir: Path) -> None:
    with Store.open(data_dir, secrets=()) as store:
        store.add_user_message(store.create_conversation("plato").id, "Before [/INST] and after")
    found = run_salon("history", "search", "INST")
    assert found.returncode == 0, found.stderr
    assert "Before [/⟦INST⟧] and after" in found.stdout
    assert "[/[INST]]" not in found.stdout


def test_rename_and_delete(data_dir: Path) -> None:
    first, second = _seed(data_dir)
    assert run_salon("history", "rename", first, "On", "virtue").returncode == 0

    refused = run_salon("history", "delete", second, input="")
    assert refused.returncode == 1 and "--yes" in refused.stderr
    deleted = run_salon("history", "delete", second, "--yes")
    assert deleted.returncode == 0 and "Describe the cave" in deleted.stdout

    with Store.open(data_dir, secrets=()) as store:
        assert [(c.id, c.title) for c in store.conversations()] == [(first, "On virtue")]
        assert store.search("shadows") == []


def test_export_all_as_json_and_import_elsewhere_round_trips(data_dir: Path, tmp_path: Path) -> None:
    _seed(data_dir)
    exported = tmp_path / "all.json"
    result = run_salon("history", "export", "--all", "-o", str(exported))
    assert result.returncode == 0, result.stderr
    assert "exported 2 conversations" in result.stderr

    elsewhere = tmp_path / "elsewhere"
    imported = run_salon("--data-dir", str(elsewhere), "history", "import", str(exported))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "imported 2 conversations"
    again = run_salon("history", "--data-dir", str(elsewhere), "import", str(exported))
    assert "imported 0 conversations; 2 already present" in again.stdout

    second_export = run_salon("history", "export", "--all", "--format", "json", "--data-dir", str(elsewhere))
    original, copy = json.loads(exported.read_text()), json.loads(second_export.stdout)
    original.pop("exported_at"), copy.pop("exported_at")
    assert copy == original
    messages = original["conversations"][0]["messages"]  # oldest first
    assert messages[1]["agent_id"] == "socrates" and messages[1]["model"] == "ollama/llama3.2"
    assert (messages[1]["input_tokens"], messages[1]["output_tokens"]) == (26, 7)


def test_markdown_export_of_one_conversation_to_a_file(data_dir: Path, tmp_path: Path) -> None:
    first, _ = _seed(data_dir)
    target = tmp_path / "virtue.md"
    assert run_salon("history", "export", first, "-o", str(target)).returncode == 0
    text = target.read_text()
    assert text.startswith("# What is virtue?") and "Describe the cave" not in text
    assert not (tmp_path / "virtue.md.partial").exists()


def test_a_damaged_import_is_refused_whole(data_dir: Path, tmp_path: Path) -> None:
    _seed(data_dir)
    exported = json.loads(run_salon("history", "export", "--all", "-f", "json").stdout)
    exported["conversations"][1]["messages"][1]["output_tokens"] = "seven"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(exported))
    other = tmp_path / "other"
    result = run_salon("history", "--data-dir", str(other), "import", str(bad))
    assert result.returncode == 1
    assert f"{bad}: conversations[1].messages[1].output_tokens: \"seven\" is not an integer" in result.stderr
    with Store.open(other, secrets=()) as store:
        assert store.conversations() == []  # the first, valid conversation was not imported either

    not_ours = tmp_path / "chat.json"
    not_ours.write_text('{"messages": []}')
    assert "not a Salon export" in run_salon("history", "import", str(not_ours)).stderr
    assert "not JSON" in run_salon("history", "import", "-", input="{oops").stderr


def test_data_dir_precedence_flag_then_config_then_environment(data_dir: Path, config_dir: Path,
                                                               tmp_path: Path) -> None:
    _seed(data_dir)  # SALON_DATA_DIR
    configured = tmp_path / "configured"
    _seed(configured)
    with Store.open(configured, secrets=()) as store:
        store.rename_conversation(store.latest_conversation().id, "from the config folder")
    assert "Describe the cave" in run_salon("history", "list").stdout

    (config_dir / "config.toml").write_text(f'data_dir = "{configured}"\n')
    assert "from the config folder" in run_salon("history", "list").stdout

    flagged = tmp_path / "flagged"
    assert run_salon("history", "list", "--data-dir", str(flagged)).stdout == ""
    assert run_salon("--data-dir", str(flagged), "history", "list").stdout == ""


def test_a_database_from_a_newer_salon_is_reported(data_dir: Path) -> None:
    import sqlite3

    Store.open(data_dir, secrets=()).close()
    with sqlite3.connect(data_dir / "salon.db") as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    result = run_salon("history", "list")
    assert result.returncode == 1
    assert "written by a newer Salon" in result.stderr and "Traceback" not in result.stderr


# -- the transcript module, in process -----------------------------------------------------------------------


def test_json_round_trip_keeps_every_field(data_dir: Path, tmp_path: Path) -> None:
    _seed(data_dir)
    with Store.open(data_dir, secrets=()) as store:
        out = io.StringIO()
        assert write_json(store, store.conversations(), out) == 2
        originals = {c.id: store.messages(c.id) for c in store.conversations()}
    items = read_json(out.getvalue())
    with Store.open(tmp_path / "copy", secrets=()) as copy:
        copy.import_conversations(items)
        for conversation_id, messages in originals.items():
            restored = copy.messages(conversation_id)
            assert len(restored) == len(messages)
            for before, after in zip(messages, restored, strict=True):
                assert after.created_at == pytest.approx(before.created_at, abs=1e-5)
                assert after == before.__class__(**{**_fields(before), "created_at": after.created_at})


def _fields(message: object) -> dict[str, object]:
    return {name: getattr(message, name) for name in message.__slots__}  # type: ignore[attr-defined]


def test_a_streaming_message_imports_as_interrupted(data_dir: Path) -> None:
    document = {"format": "salon.conversations", "version": 1, "conversations": [{
        "id": "conv_abc123", "title": "t", "agent_id": "assistant", "created_at": "2026-01-01T00:00:00+00:00",
        "messages": [{"id": "msg_abc", "role": "assistant", "text": "half", "status": "streaming",
                      "created_at": 1767225600.0}]}]}
    with Store.open(data_dir, secrets=()) as store:
        store.import_conversations(read_json(json.dumps(document)))
        assert store.messages("conv_abc123")[0].status == "interrupted"


def test_an_export_from_a_newer_salon_is_refused() -> None:
    with pytest.raises(TranscriptError, match="newer than this Salon reads"):
        read_json('{"format": "salon.conversations", "version": 99, "conversations": []}')


def test_markdown_of_an_empty_and_a_failed_reply(data_dir: Path) -> None:
    with Store.open(data_dir, secrets=()) as store:
        conversation = store.create_conversation("assistant")
        store.add_user_message(conversation.id, "hi")
        store.start_reply(conversation.id, "msg_f", agent_id="assistant", agent_name="Assistant", model="m")
        store.finish_reply("msg_f", Reply(), "failed", "cannot reach Ollama")
        out = io.StringIO()
        write_markdown(store, [store.conversation(conversation.id)], out)
    assert "*(no text)*" in out.getvalue() and "failed · error: cannot reach Ollama" in out.getvalue()


def test_conversation_display_title() -> None:
    assert Conversation("conv_x", "", "a", 0, 0, 0).display_title == "(untitled)"

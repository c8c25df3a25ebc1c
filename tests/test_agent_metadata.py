"""Agent folders' metadata.json (issue 18): every field the documents write is mapped to a Salon agent; fields Salon
has no use for are kept out with a note; a broken file is reported as ``path:line: reason`` and nothing else is
lost."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import tomli_w

from salon.agents.definition import default_directories, load_agents
from salon.agents.hub import model_ref
from salon.errors import AgentFileError
from tests.agent_folders import DOCS_METADATA, SOCRATES_THEN_PLATO, local_metadata, write_folder


@pytest.fixture
def agents_dir(config_dir: Path) -> Path:
    folder = config_dir / "agents"
    folder.mkdir()
    return folder


def test_the_documents_metadata_loads_with_every_field_mapped(agents_dir: Path):
    write_folder(agents_dir, "streaming-example", DOCS_METADATA)
    catalog = load_agents(default_directories())
    agent = catalog.get("streaming-example")
    assert catalog.errors == []
    assert agent.name == "Streaming Example"  # details.display_name, shown in place of the slug
    assert agent.description == "Demonstrates streaming agent runs."
    assert (agent.version, agent.tags) == ("0.0.3", ("streaming",))
    assert agent.welcome is not None
    assert (agent.welcome.title, agent.welcome.description) == ("Example of streaming agent runs",
                                                               "I respond as Socrates then as Plato.")
    assert agent.show_streaming_message is True and agent.steps[0].show_streaming_message is True
    assert agent.model == "fireworks_ai/accounts/fireworks/models/llama-v3p3-70b-instruct"
    assert dict(agent.params) == {"max_tokens": 4000}
    assert agent.path == agents_dir / "streaming-example" / "metadata.json" and agent.program is None
    # A provider Salon does not reach locally is said, with what to pass instead; unknown fields too.
    model_note, *others = agent.notes
    assert "Fireworks, a cloud service" in model_note and "FIREWORKS_AI_API_KEY" in model_note
    assert "pass --model" in model_note and "--model ollama/llama3.2" in model_note
    assert "kept out (Salon has no use for them): details.icon, details.capabilities, show_entry" in others


def test_show_streaming_message_false_and_a_local_model(agents_dir: Path):
    write_folder(agents_dir, "quiet", local_metadata(show_streaming_message=False))
    agent = load_agents(default_directories()).get("quiet")
    assert agent.model == "ollama/llama3.2"
    assert [s.show_streaming_message for s in agent.steps] == [False]
    assert not any(note.startswith("model:") for note in agent.notes)


@pytest.mark.parametrize(("provider", "model", "ref", "reachable"), [
    ("ollama", "qwen3:8b", "ollama/qwen3:8b", True),
    (None, "ollama/llama3.2", "ollama/llama3.2", True),
    ("fireworks", "accounts/fireworks/models/qwen3", "fireworks_ai/accounts/fireworks/models/qwen3", False),
    (None, "fireworks::accounts/fireworks/models/qwen3", "fireworks_ai/accounts/fireworks/models/qwen3", False),
    (None, "llama-v3p1-70b-instruct", "fireworks_ai/accounts/fireworks/models/llama-v3p1-70b-instruct", False),
    ("hyperbolic", "deepseek-ai/DeepSeek-V3", "hyperbolic/deepseek-ai/DeepSeek-V3", False),
])
def test_model_provider_and_model_become_a_model_reference(provider, model, ref, reachable):
    mapped, note = model_ref(provider, model)
    assert mapped == ref
    assert (note is None) == reachable
    if note:
        assert "--model" in note


def test_max_iterations_and_temperature_are_kept(agents_dir: Path):
    metadata = local_metadata()
    metadata["details"]["agent"]["defaults"].update(max_iterations=3, model_temperature=0.4)
    write_folder(agents_dir, "tuned", metadata)
    agent = load_agents(default_directories()).get("tuned")
    assert dict(agent.params) == {"max_tokens": 4000, "temperature": 0.4}
    # It bounds the agent's tool loop, as an agent file's own max_iterations does.
    assert agent.max_iterations == 3 and [step.max_iterations for step in agent.steps] == [3]
    assert not any("max_iterations" in note for note in agent.notes)


def test_broken_json_is_reported_with_its_line_and_the_other_agents_load(agents_dir: Path):
    text = json.dumps(local_metadata(), indent=2).replace('"version": "0.0.3",', '"version": "0.0.3"')
    write_folder(agents_dir, "broken", text)
    write_folder(agents_dir, "fine", local_metadata())
    catalog = load_agents(default_directories())
    (error,) = catalog.errors
    line = text.splitlines().index('  "category": "agent",') + 1
    assert str(error) == f"{agents_dir / 'broken' / 'metadata.json'}:{line}: invalid JSON: Expecting ',' delimiter"
    assert "fine" in catalog.agents and "assistant" in catalog.agents
    with pytest.raises(AgentFileError) as raised:
        catalog.get("broken")  # asking for it by its folder's name gives its own error, not "no such agent"
    assert raised.value is error


@pytest.mark.parametrize(("change", "key", "reason"), [
    (lambda m: m["details"]["agent"].update(show_streaming_message="yes"), '"show_streaming_message"',
     "'details.agent.show_streaming_message' should be true or false, not \"yes\""),
    (lambda m: m["details"]["agent"]["defaults"].update(model_max_tokens="4000"), '"model_max_tokens"',
     "'details.agent.defaults.model_max_tokens' should be a whole number, not \"4000\""),
    (lambda m: m["details"]["agent"]["defaults"].update(max_iterations=0), '"max_iterations"',
     "'details.agent.defaults.max_iterations' should be at least 1, not 0"),
    (lambda m: m.update(tags=["ok", 3]), '"tags"', "'tags' should be a list of strings, not a list"),
    (lambda m: m["details"]["agent"].update(welcome="hello"), '"welcome"',
     "'details.agent.welcome' should be an object, not \"hello\""),
    (lambda m: m.update(category="model"), '"category"', "is a 'model', not an agent (category \"agent\")"),
])
def test_a_wrong_type_is_reported_at_its_key(agents_dir: Path, change, key, reason):
    metadata = local_metadata()
    change(metadata)
    text = json.dumps(metadata, indent=2)
    write_folder(agents_dir, "typo", text)
    (error,) = load_agents(default_directories()).errors
    line = next(n for n, content in enumerate(text.splitlines(), 1) if content.strip().startswith(key))
    assert str(error) == f"{agents_dir / 'typo' / 'metadata.json'}:{line}: {reason}"


def test_a_metadata_without_a_model_says_which_keys_to_set(agents_dir: Path):
    metadata = copy.deepcopy(DOCS_METADATA)
    del metadata["details"]["agent"]["defaults"]
    write_folder(agents_dir, "nomodel", metadata)
    (error,) = load_agents(default_directories()).errors
    assert "no model: set details.agent.defaults.model and model_provider" in str(error)


def test_unknown_fields_anywhere_are_a_note_never_an_error(agents_dir: Path):
    metadata = local_metadata(show_entry=False, extra={"deep": [1, {"x": 2}]})
    metadata["details"]["agent"]["framework"] = "standard"
    metadata["details"]["agent"]["defaults"]["model_top_p"] = 0.9
    write_folder(agents_dir, "odd", metadata)
    catalog = load_agents(default_directories())
    assert catalog.errors == []
    (note,) = [n for n in catalog.get("odd").notes if n.startswith("kept out")]
    assert note == ("kept out (Salon has no use for them): details.icon, details.agent.defaults.model_top_p, "
                    "details.agent.framework, details.capabilities, show_entry, extra")


def test_a_toml_file_and_a_folder_of_one_name_use_the_toml_file(agents_dir: Path):
    (agents_dir / "twin.toml").write_text('name = "Twin"\nmodel = "ollama/llama3.2"\n')
    write_folder(agents_dir, "twin", local_metadata())
    catalog = load_agents(default_directories())
    assert catalog.get("twin").name == "Twin"
    (error,) = catalog.errors
    assert "agent 'twin' is also defined by" in str(error) and str(error).endswith("twin.toml, which is used")


def test_a_user_folder_overrides_a_bundled_agent(agents_dir: Path):
    write_folder(agents_dir, "socrates", local_metadata())
    catalog = load_agents(default_directories())
    assert catalog.get("socrates").name == "Streaming Example"
    assert "socrates" in catalog.overridden


def test_a_toml_step_may_name_a_metadata_agent_but_not_a_python_one(agents_dir: Path):
    write_folder(agents_dir, "hub", local_metadata())
    write_folder(agents_dir, "coded", local_metadata(), SOCRATES_THEN_PLATO)
    (agents_dir / "pair.toml").write_text(tomli_w.dumps({"name": "Pair", "steps": [{"agent": "hub"}]}))
    (agents_dir / "mixed.toml").write_text(tomli_w.dumps({"name": "Mixed", "steps": [{"agent": "coded"}]}))
    catalog = load_agents(default_directories())
    assert catalog.get("pair").steps[0].model == "ollama/llama3.2"
    (error,) = catalog.errors
    assert str(error).startswith(f"{agents_dir / 'mixed.toml'}:")
    assert "names agent 'coded', a Python agent" in str(error)


def test_a_python_agent_with_a_syntax_error_is_reported_at_its_line(agents_dir: Path):
    write_folder(agents_dir, "typo", local_metadata(), "x = 1\nif x\n    pass\n")
    (error,) = load_agents(default_directories()).errors
    assert str(error).startswith(f"{agents_dir / 'typo' / 'agent.py'}:2: invalid Python:")


def test_a_python_agent_others_can_change_is_not_run(agents_dir: Path):
    folder = write_folder(agents_dir, "shared", local_metadata(), SOCRATES_THEN_PLATO)
    (folder / "agent.py").chmod(0o666)
    catalog = load_agents(default_directories())
    assert "shared" not in catalog.agents
    assert "others can change this program" in str(catalog.errors[0])


def test_a_python_agent_needs_its_metadata(agents_dir: Path):
    folder = agents_dir / "bare"
    folder.mkdir()
    (folder / "agent.py").write_text(SOCRATES_THEN_PLATO)
    (folder / "agent.py").chmod(0o600)
    (error,) = load_agents(default_directories()).errors
    assert str(error).startswith(f"{folder / 'agent.py'}: a Python agent needs a metadata.json beside it")

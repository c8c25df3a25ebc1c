"""Agent files: the bundled set, user overrides, steps, and errors located as path:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from salon import locations
from salon.agents.definition import load_agents
from tests.conftest import run_salon


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def bundled():
    return load_agents([locations.bundled_agents_dir()])


def test_bundled_agents_cover_the_promised_personas():
    catalog = bundled()
    assert catalog.errors == []
    assert {"assistant", "socrates", "plato", "socrates-then-plato", "quiet-drafter"} <= set(catalog.agents)
    assert catalog.get("quiet-drafter").show_streaming_message is False
    assert all(step.show_streaming_message is False for step in catalog.get("quiet-drafter").steps)
    socrates = catalog.get("socrates")
    assert socrates.name == "Socrates"
    assert socrates.params["max_tokens"] == 4000
    assert socrates.welcome is not None and socrates.welcome.title == "Ask Socrates"
    # The bundled example of tools: the published MCP time server's tools, nothing else.
    assert catalog.get("clock").steps[0].tools == ("time.*",)
    assert [a.id for a in catalog if a.uses_tools] == ["clock"]


def test_two_step_agent_takes_each_persona_in_order():
    dialogue = bundled().get("socrates-then-plato")
    assert [step.name for step in dialogue.steps] == ["Socrates", "Plato"]
    assert [step.agent_id for step in dialogue.steps] == ["socrates", "plato"]
    assert dialogue.steps[0].system.startswith("Respond as though you were Socrates")
    assert dialogue.steps[1].sees_previous_steps is False
    assert dialogue.steps[0].sees_previous_steps is True


def test_steps_inherit_the_agent_and_override_some_fields(tmp_path):
    write(tmp_path, "panel", """
name = "Panel"
model = "ollama/llama3.2"
system = "Be brief."
show_streaming_message = false

[params]
temperature = 0.2
seed = 7

[[steps]]
name = "First"

[[steps]]
name = "Second"
model = "ollama/qwen3"
stream = false
[steps.params]
temperature = 0.9
""")
    panel = load_agents([tmp_path]).get("panel")
    first, second = panel.steps
    assert (first.name, first.model, first.system) == ("First", "ollama/llama3.2", "Be brief.")
    assert first.show_streaming_message is False and first.stream is True
    assert (second.model, second.stream) == ("ollama/qwen3", False)
    assert dict(second.params) == {"temperature": 0.9, "seed": 7}
    assert dict(first.params) == {"temperature": 0.2, "seed": 7}


def test_a_step_overrides_the_agent_it_names(tmp_path):
    write(tmp_path, "fast-socrates", """
name = "Fast Socrates"
model = "ollama/llama3.2"
[[steps]]
agent = "socrates"
model = "ollama/qwen3"
""")
    catalog = load_agents([locations.bundled_agents_dir(), tmp_path])
    (step,) = catalog.get("fast-socrates").steps
    assert (step.name, step.model, step.agent_id) == ("Socrates", "ollama/qwen3", "socrates")
    assert step.system.startswith("Respond as though you were Socrates")


def test_user_agent_overrides_the_bundled_one_with_the_same_id(config_dir):
    write(config_dir / "agents", "socrates", 'name = "My Socrates"\nmodel = "ollama/qwen3"\n')
    catalog = load_agents([locations.bundled_agents_dir(), locations.user_agents_dir()])
    assert catalog.get("socrates").name == "My Socrates"
    assert catalog.overridden["socrates"] == locations.bundled_agents_dir() / "socrates.toml"
    # The dialogue that names socrates now uses the user's persona.
    assert catalog.get("socrates-then-plato").steps[0].name == "My Socrates"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('name = "A"\nmodel = "ollama/x"\nsystem = """unclosed\n', 3, "invalid TOML"),
        ('name = "A"\nmodel = "ollama/x"\n\ntemprature = 0.5\n', 4, "unknown key 'temprature'"),
        ('name = "A"\nmodel = "ollama/x"\nstream = "yes"\n', 3, "'stream' should be true or false, not \"yes\""),
        ('name = "A"\nmodel = "ollama/x"\n[params]\ntemperature = "hot"\n', 4,
         "'params.temperature' should be a number"),
        ('name = "A"\nmodel = "ollama/x"\n[[steps]]\nagent = "nobody"\n', 4,
         "steps[1] names agent 'nobody', which does not exist"),
        ('name = "A"\nmodel = "ollama/x"\n[[steps]]\nname = "one"\n[[steps]]\nmodle = "x"\n', 6,
         "unknown key 'steps[2].modle'"),
        ('name = "A"\n', 1, "missing 'model'"),
        ('name = "A"\nmodel = "ollama/x"\n[welcome]\ndescription = "hi"\n', 3, "[welcome] needs a title"),
    ],
)
def test_malformed_file_is_located_by_path_and_line_and_the_rest_still_load(tmp_path, text, line, reason):
    broken = write(tmp_path, "broken", text)
    write(tmp_path, "fine", 'name = "Fine"\nmodel = "ollama/llama3.2"\n')
    catalog = load_agents([tmp_path])
    assert list(catalog.agents) == ["fine"]
    (error,) = catalog.errors
    assert str(error).startswith(f"{broken}:{line}: ")
    assert reason in str(error)


def test_a_cycle_of_steps_is_reported_on_every_agent_in_it(tmp_path):
    a = write(tmp_path, "a", 'model = "ollama/x"\n[[steps]]\nagent = "b"\n')
    b = write(tmp_path, "b", 'model = "ollama/x"\n\n[[steps]]\nagent = "a"\n')
    write(tmp_path, "c", 'model = "ollama/x"\n')
    catalog = load_agents([tmp_path])
    assert list(catalog.agents) == ["c"]
    messages = sorted(str(e) for e in catalog.errors)
    assert messages[0].startswith(f"{a}:3: steps[1] names agent 'b'")
    assert messages[1].startswith(f"{b}:4: steps[1] makes a cycle: a → b → a")


def test_an_agent_naming_itself_is_a_cycle(tmp_path):
    me = write(tmp_path, "me", 'model = "ollama/x"\n[[steps]]\nagent = "me"\n')
    (error,) = load_agents([tmp_path]).errors
    assert str(error) == f"{me}:3: steps[1] makes a cycle: me → me"


def test_a_broken_user_override_leaves_the_bundled_agent_working(config_dir):
    broken = write(config_dir / "agents", "plato", "name = \n")
    catalog = load_agents([locations.bundled_agents_dir(), locations.user_agents_dir()])
    assert catalog.get("plato").name == "Plato"
    assert [e.path for e in catalog.errors] == [broken]


def test_validate_command_prints_path_line_reason_and_lists_the_rest(tmp_path):
    folder = tmp_path / "mine"
    write(folder, "good", 'name = "Good"\nmodel = "ollama/llama3.2"\n')
    write(folder, "dialogue", 'name = "D"\nmodel = "ollama/llama3.2"\n[[steps]]\nagent = "socrates"\n')
    broken = write(folder, "broken", 'name = "Broken"\nmodel = "ollama/llama3.2"\nshow_streaming_message = 1\n')
    result = run_salon("agents", "validate", str(folder))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert f"{broken}:3: 'show_streaming_message' should be true or false, not 1" in lines
    assert any(line.startswith("ok") and "good.toml" in line for line in lines)
    assert any(line.startswith("ok") and "dialogue.toml" in line for line in lines)
    assert not any("socrates.toml" in line for line in lines), "bundled agents are not the folder's"


def test_agents_list_marks_the_default_and_user_agents(config_dir):
    write(config_dir / "agents", "poet", 'name = "Poet"\nmodel = "ollama/qwen3"\n')
    result = run_salon("agents", "list")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert any(line.startswith("assistant") and "[default]" in line for line in lines)
    assert any(line.startswith("poet") and "Poet — ollama/qwen3" in line and "[user]" in line for line in lines)
    assert any(line.startswith("socrates-then-plato") for line in lines)


def test_agents_show_unknown_id_names_the_known_ones():
    result = run_salon("agents", "show", "aristotle")
    assert result.returncode == 1
    assert "no agent named 'aristotle'" in result.stderr
    assert "socrates" in result.stderr

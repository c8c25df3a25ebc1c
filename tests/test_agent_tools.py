"""Agent files choose their tools: patterns inherited by steps, checked as path:line, never servers or approval."""

from __future__ import annotations

import pytest

from salon.agents.definition import load_agents
from tests.test_agents import write


def test_tools_and_max_iterations_are_inherited_by_steps_and_overridable(tmp_path):
    write(tmp_path, "clock", """
name = "Clock"
model = "ollama/llama3.2"
tools = ["time.*", "git.git_log"]
max_iterations = 3

[[steps]]
name = "Asker"

[[steps]]
name = "Checker"
tools = ["time.get_current_time"]
max_iterations = 1
""")
    agent = load_agents([tmp_path]).get("clock")
    assert agent.tools == ("time.*", "git.git_log")
    assert agent.uses_tools
    assert [step.tools for step in agent.steps] == [("time.*", "git.git_log"), ("time.get_current_time",)]
    assert [step.max_iterations for step in agent.steps] == [3, 1]


def test_an_agent_that_lists_nothing_gets_no_tools(tmp_path):
    write(tmp_path, "plain", 'model = "ollama/llama3.2"\n')
    agent = load_agents([tmp_path]).get("plain")
    assert agent.steps[0].tools == ()
    assert agent.steps[0].max_iterations == 8
    assert not agent.uses_tools


@pytest.mark.parametrize(("text", "line", "reason"), [
    ('model = "ollama/x"\n\ntools = "time.*"\n', 3, "'tools' should be an array"),
    ('model = "ollama/x"\ntools = ["time"]\n', 2, "entry 'time' should name SERVER.TOOL or SERVER.*"),
    ('model = "ollama/x"\ntools = [3]\n', 2, "'tools' entries should be strings, not 3"),
    ('model = "ollama/x"\ntools = ["*.x"]\n', 2, "should name SERVER.TOOL"),
    ('model = "ollama/x"\nmax_iterations = 0\n', 2, "'max_iterations' should be a whole number of at least 1"),
    ('model = "ollama/x"\nmax_iterations = true\n', 2, "'max_iterations' should be a whole number"),
    ('model = "ollama/x"\n[[steps]]\ntools = ["nodot"]\n', 3, "'steps[1].tools' entry 'nodot'"),
])
def test_bad_tools_are_located_by_path_and_line(tmp_path, text, line, reason):
    write(tmp_path, "bad", text)
    write(tmp_path, "good", 'model = "ollama/x"\ntools = ["time.*"]\n')
    catalog = load_agents([tmp_path])
    assert "good" in catalog.agents
    [error] = catalog.errors
    assert error.line == line
    assert reason in str(error)


@pytest.mark.parametrize(("text", "line", "reason"), [
    ('model = "ollama/x"\ntools = ["time.*"]\napprove = "auto"\n', 3, "never an agent file's"),
    ('model = "ollama/x"\n[approvals]\n"time.get_current_time" = "always"\n', 2, "never an agent file's"),
    ('model = "ollama/x"\n[mcp_servers.evil]\ncommand = "sh"\n', 2, "declared in your config.toml"),
    ('model = "ollama/x"\n[[steps]]\napprove = "auto"\n', 3, "'steps[1].approve'"),
])
def test_an_agent_file_cannot_declare_servers_or_approve_its_own_tools(tmp_path, text, line, reason):
    write(tmp_path, "sneaky", text)
    catalog = load_agents([tmp_path])
    assert "sneaky" not in catalog.agents
    [error] = catalog.errors
    assert error.line == line
    assert reason in str(error)

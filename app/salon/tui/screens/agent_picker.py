"""The persona picker: every agent, fuzzy-searched by id, name and description."""

from __future__ import annotations

from collections.abc import Iterable

from salon.agents.definition import Agent
from salon.tui.records import model_label
from salon.tui.screens.picker import Choice, PickerScreen


def agent_choices(agents: Iterable[Agent], current: str | None) -> list[Choice]:
    choices = []
    for agent in agents:
        personas = " → ".join(dict.fromkeys(step.name for step in agent.steps))
        models = ", ".join(model_label(m) for m in agent.models)
        detail = " · ".join(part for part in (agent.description, personas if len(agent.steps) > 1 else "", models)
                            if part)
        choices.append(Choice(agent.id, f"{agent.name} ({agent.id})", detail,
                              search=f"{agent.name} {agent.id}", current=agent.id == current))
    return choices


class AgentPicker(PickerScreen):
    """Returns the chosen agent's id, or None."""

    def __init__(self, agents: Iterable[Agent], current: str | None) -> None:
        super().__init__("Switch persona — the next reply comes from the agent you pick",
                         agent_choices(agents, current), placeholder="Search agents", id="agent-picker")

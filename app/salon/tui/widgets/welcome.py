"""What an empty conversation shows: the agent's ``[welcome]`` and the keys that matter first."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from salon.agents.definition import Agent
from salon.tui.plain import safe_text
from salon.tui.records import model_label

HINTS = "Enter sends · ctrl+t persona · ctrl+o model · esc stops a reply · ctrl+p commands · f1 keys"


class Welcome(Static):
    """The agent's welcome title and description, or its name and description when it has none."""

    def __init__(self, agent: Agent, model: str | None = None, *, id: str | None = None) -> None:
        super().__init__(self._content(agent, model), id=id)

    @staticmethod
    def _content(agent: Agent, model: str | None = None) -> Content:
        """``model``: the one picked for the conversation, which answers instead of the agent's own."""
        title = agent.welcome.title if agent.welcome else agent.name
        description = (agent.welcome.description if agent.welcome else "") or agent.description
        personas = " → ".join(dict.fromkeys(step.name for step in agent.steps))
        models = model_label(model) if model else ", ".join(model_label(m) for m in agent.models)
        return Content.assemble(
            (safe_text(title), "bold $primary"), "\n\n",
            safe_text(description), "\n\n" if description else "",
            (safe_text(f"{personas} · {models}"), "$text-muted"), "\n\n",
            (HINTS, "$text-muted"),
        )

    def show_agent(self, agent: Agent, model: str | None = None) -> None:
        self.update(self._content(agent, model))

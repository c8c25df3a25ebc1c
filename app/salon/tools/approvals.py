"""Which tool calls run without asking: ``approve = "auto"`` in the user's config, or "always" answered before.

"Always" is remembered per agent and tool in the user's config.toml (``[approvals.AGENT]``), written privately;
an agent file can never grant either (:mod:`salon.agents.definition` refuses the keys).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from salon.config.mcp_servers import McpServerSettings
from salon.config.read import Config
from salon.errors import ConfigError


class Approvals:
    """The approval policy of a session; ``problems`` collects what could not be remembered (and why)."""

    def __init__(self, config: Config, path: Path | None = None,
                 on_problem: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.path = path or config.source
        self._always: set[tuple[str, str]] = {(agent, tool) for agent, tools in config.approvals.items()
                                              for tool, value in tools.items() if value == "always"}
        self.problems: list[str] = []
        self._on_problem = on_problem

    def allowed(self, agent_id: str, server: str, tool: str) -> str | None:
        """Why this call may run unasked (``"auto"``, ``"always"``), or None when the user must be asked."""
        settings: McpServerSettings | None = self.config.mcp_servers.get(server)
        if settings is not None and settings.approval(tool) == "auto":
            return "auto"
        if (agent_id, f"{server}.{tool}") in self._always:
            return "always"
        return None

    def remember(self, agent_id: str, server: str, tool: str) -> None:
        """Allow this tool for this agent from now on, here and in config.toml."""
        name = f"{server}.{tool}"
        self._always.add((agent_id, name))
        from salon.config.write import update_config

        try:
            update_config({"approvals": {agent_id: {name: "always"}}}, self.path)
        except ConfigError as error:
            problem = f"'always' for {name} holds for this session only: {error}"
            self.problems.append(problem)
            if self._on_problem is not None:
                self._on_problem(problem)

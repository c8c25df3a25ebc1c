"""``[mcp_servers.NAME]`` and ``[approvals.AGENT]`` in the user's config.toml, checked and located as file:line.

These tables exist only in the user's own config: where a tool request goes, and what runs without asking, is
never an agent file's or a conversation's to say. A malformed server is reported and left out; the others load.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import urlsplit

from salon.config.schema import Key, Table
from salon.config.tomlfile import KeyLines, describe

DEFAULT_TOOL_TIMEOUT = 60.0
SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
Approve = Literal["ask", "auto"]


@dataclass(frozen=True, slots=True)
class McpServerSettings:
    """One MCP server: a command Salon starts (stdio) or a ``url`` it connects to (streamable HTTP)."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    url: str | None = None
    timeout: float = DEFAULT_TOOL_TIMEOUT
    """Seconds one tool call may take before it is given up."""
    approve: Approve = "ask"
    """For every tool of this server; ``tools`` overrides it per tool."""
    tools: Mapping[str, Approve] = field(default_factory=lambda: MappingProxyType({}))

    def approval(self, tool: str) -> Approve:
        return self.tools.get(tool, self.approve)

    @property
    def where(self) -> str:
        """The server as messages name it: its command line or its URL (never its environment)."""
        return self.url if self.url else " ".join((self.command or "", *self.args)).strip()


_SERVER_KEYS = Table({
    "command": Key((str,), "a string (the program to start)"),
    "args": Key((list,), "an array of strings"),
    "env": Key((dict,), "a table of NAME = \"value\""),
    "url": Key((str,), "an http:// or https:// URL"),
    "timeout": Key((int, float), "a number of seconds above 0"),
    "approve": Key((str,), "\"ask\" or \"auto\""),
    "tools": Key((dict,), "a table of [mcp_servers.NAME.tools.TOOL] tables"),
})


class _Bad(Exception):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def parse_mcp_servers(table: Any, path: Path, lines: KeyLines, warnings: list[str]
                      ) -> dict[str, McpServerSettings]:
    """Every well-formed ``[mcp_servers.NAME]``; each malformed one adds a ``path:line: reason`` warning."""
    if not isinstance(table, dict):
        warnings.append(f"{path}:{lines.of('mcp_servers')}: [mcp_servers] should be a table of "
                        "[mcp_servers.NAME] tables; ignored")
        return {}
    servers = {}
    for name, entry in table.items():
        try:
            servers[name] = _server(name, entry, lines)
        except _Bad as bad:
            warnings.append(f"{path}:{bad.line}: [mcp_servers.{name}] {bad.reason}; this server is not loaded")
    return servers


def _server(name: str, entry: Any, lines: KeyLines) -> McpServerSettings:
    where = ("mcp_servers", name)
    if not SERVER_NAME.match(name):
        raise _Bad(lines.of(*where), "the name may hold only letters, digits, '-' and '_' (tools are named "
                                     "SERVER.TOOL)")
    if not isinstance(entry, dict):
        raise _Bad(lines.of(*where), f"should be a table, not {describe(entry)}")
    # A server's table may come from elsewhere (an mcpServers file imported): a bad key refuses this server only.
    for finding in _SERVER_KEYS.check(entry, where, lines):
        raise _Bad(lines.of(*finding.path), finding.message(finding.name))
    command, url = entry.get("command"), entry.get("url")
    if (command is None) == (url is None):
        raise _Bad(lines.of(*where), "needs either 'command' (a program Salon starts) or 'url' (a server to "
                                     "connect to)" + (", not both" if command is not None else ""))
    if command is not None and not command.strip():
        raise _Bad(lines.of(*where, "command"), "'command' is empty")
    args = entry.get("args", [])
    if not all(isinstance(arg, str) for arg in args):
        raise _Bad(lines.of(*where, "args"), "'args' should be an array of strings")
    env = entry.get("env", {})
    if not all(isinstance(value, str) for value in env.values()):
        raise _Bad(lines.of(*where, "env"), "'env' values should be strings")
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _Bad(lines.of(*where, "url"), f"'url' should be an http:// or https:// URL, not {url!r}")
    timeout = entry.get("timeout", DEFAULT_TOOL_TIMEOUT)
    if timeout <= 0:
        raise _Bad(lines.of(*where, "timeout"), "'timeout' should be a number of seconds above 0")
    approve = _approve(entry.get("approve", "ask"), lines.of(*where, "approve"), "approve")
    tools: dict[str, Approve] = {}
    for tool, settings in entry.get("tools", {}).items():
        line = lines.of(*where, "tools", tool)
        if not isinstance(settings, dict) or set(settings) - {"approve"}:
            raise _Bad(line, f"'tools.{tool}' should be a table holding only approve = \"ask\" or \"auto\"")
        tools[tool] = _approve(settings.get("approve", approve), line, f"tools.{tool}.approve")
    return McpServerSettings(name=name, command=command, args=tuple(args),
                             env=MappingProxyType(dict(env)), url=url, timeout=float(timeout), approve=approve,
                             tools=MappingProxyType(tools))


def _approve(value: str, line: int, label: str) -> Approve:
    if value not in ("ask", "auto"):
        raise _Bad(line, f"'{label}' should be \"ask\" or \"auto\", not {value!r}")
    return value  # type: ignore[return-value]


def parse_approvals(table: Any, path: Path, lines: KeyLines, warnings: list[str]
                    ) -> dict[str, Mapping[str, str]]:
    """``[approvals.AGENT]`` ``"server.tool" = "always"``: the tools a user allowed for good, per agent."""
    if not isinstance(table, dict):
        warnings.append(f"{path}:{lines.of('approvals')}: [approvals] should be a table of [approvals.AGENT] "
                        "tables; ignored")
        return {}
    approvals: dict[str, Mapping[str, str]] = {}
    for agent, tools in table.items():
        if not isinstance(tools, dict):
            warnings.append(f"{path}:{lines.of('approvals', agent)}: [approvals.{agent}] should be a table of "
                            "\"server.tool\" = \"always\"; ignored")
            continue
        kept = {}
        for tool, value in tools.items():
            if value != "always" or "." not in tool:
                warnings.append(f"{path}:{lines.of('approvals', agent, tool)}: approvals.{agent}.\"{tool}\" "
                                f"should be \"server.tool\" = \"always\"; ignored")
                continue
            kept[tool] = value
        approvals[agent] = MappingProxyType(kept)
    return approvals


SALONS_PYTHON = ("python", "python3")
"""Commands that mean the Python that runs Salon: a server a user installed beside Salon (``pip install
mcp-server-time`` into its venv) must be found when Salon runs as ``.venv/bin/salon`` without the venv activated,
where PATH's ``python`` would be the system's."""


def resolve_command(command: str) -> str:
    """The program to start for a server's ``command``: ``python``/``python3`` are the Python running Salon."""
    import sys

    if command in SALONS_PYTHON and sys.executable:
        return sys.executable
    return command

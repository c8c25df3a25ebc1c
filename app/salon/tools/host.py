"""The tools of a session: MCP servers started when an agent that uses them first runs, stopped with the session.

A run asks the host for the tools its step may use (:meth:`ToolHost.offer`) and calls them through it; no face
talks to an MCP server.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from salon.config.mcp_servers import Approve, McpServerSettings
from salon.errors import ToolError
from salon.providers.base import ToolSpec

if TYPE_CHECKING:
    from salon.tools.mcp_client import McpConnection

MAX_OUTPUT_CHARS = 20_000
"""What is kept of one tool's answer, and sent to the model: more would flood the context and the database."""
_FUNCTION_NAME = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True, slots=True)
class OfferedTool:
    server: str
    tool: str
    spec: ToolSpec


@dataclass(frozen=True, slots=True)
class ToolSet:
    """The tools offered to one step's model, by the function name the model sees."""

    by_function: Mapping[str, OfferedTool] = field(default_factory=dict)
    unavailable: Mapping[str, str] = field(default_factory=dict)
    """The servers whose tools could not be offered (they would not start or list), each with why."""

    @property
    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(offered.spec for offered in self.by_function.values())

    def find(self, function: str) -> OfferedTool | None:
        found = self.by_function.get(function)
        if found is None and "." in function:
            # Some models answer with the server.tool name they were told about in prose.
            server, _, tool = function.partition(".")
            found = next((o for o in self.by_function.values() if (o.server, o.tool) == (server, tool)), None)
        return found



def function_names(tools: Sequence[tuple[str, str]]) -> list[str]:
    """The function name the model is offered for each ``(server, tool)``, in order; never two alike.

    The bare tool name reads best to a small model. Where two tools would be offered under one name (two servers
    share a tool name, or names that differ only in characters a function name cannot hold, such as ``x.y`` and
    ``x_y``), each is qualified by its server (``server__tool``); should even those meet (a cut to 64 characters),
    the later ones are numbered. The same tools always get the same names.
    """
    def clean(name: str) -> str:
        return _FUNCTION_NAME.sub("_", name)[:64]

    bare = [clean(tool) for _, tool in tools]
    shared = {name for name in bare if bare.count(name) > 1}
    names: list[str] = []
    for (server, tool), name in zip(tools, bare, strict=True):
        name = clean(f"{server}__{tool}") if name in shared else name
        base, number = name, 1
        while name in names:
            number += 1
            suffix = f"_{number}"
            name = base[:64 - len(suffix)] + suffix
        names.append(name)
    return names


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a call gave: ``output`` (capped, said so) or ``error``, never both."""

    output: str | None = None
    error: str | None = None


def cap(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return (f"{text[:limit]}\n[Salon cut this tool's output: {len(text):,} characters, only the first {limit:,} "
            "kept and sent to the model]")


def matches(patterns: Iterable[str], server: str, tool: str) -> bool:
    name = f"{server}.{tool}"
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


class ToolHost:
    """The user's MCP servers for one session; each starts on first use and stops in :meth:`aclose`."""

    def __init__(self, servers: Mapping[str, McpServerSettings]) -> None:
        self.servers = dict(servers)
        self._connections: dict[str, McpConnection] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def approval(self, server: str, tool: str) -> Approve:
        settings = self.servers.get(server)
        return settings.approval(tool) if settings else "ask"

    def timeout(self, server: str) -> float:
        settings = self.servers.get(server)
        return settings.timeout if settings else 60.0

    def describe(self, server: str) -> str:
        """The server as a user recognises it in an approval question: its command line or URL."""
        settings = self.servers.get(server)
        return settings.where if settings else server

    async def offer(self, patterns: Iterable[str]) -> ToolSet:
        """The tools matching ``patterns``, starting the servers they name; raises :class:`ToolError`."""
        patterns = tuple(patterns)
        wanted = list(dict.fromkeys(p.partition(".")[0] for p in patterns))
        missing = [name for name in wanted if name not in self.servers]
        if missing:
            raise ToolError(f"the agent uses tools of {_names(missing)}, but config.toml declares no such MCP "
                            f"server; add [mcp_servers.{missing[0]}] with its command or url (see the README)")
        offered: dict[str, OfferedTool] = {}
        listed: list[tuple[str, Any]] = []
        unavailable: dict[str, str] = {}
        for server in wanted:
            try:
                connection = await self._connection(server)
            except ToolError as error:
                # One broken server costs its own tools, not the reply: the others are offered, and the run
                # tells the model and the user which are missing.
                unavailable[server] = str(error)
                continue
            listed += [(server, info) for info in connection.tools if matches(patterns, server, info.name)]
        for (server, info), function in zip(listed, function_names([(server, info.name) for server, info in listed]),
                                            strict=True):
            schema = info.input_schema if isinstance(info.input_schema, dict) else {}
            offered[function] = OfferedTool(server, info.name, ToolSpec(function, info.description,
                                                                        schema or {"type": "object"}))
        return ToolSet(offered, unavailable)

    async def call(self, server: str, tool: str, arguments: dict[str, Any]) -> ToolResult:
        """Run one tool; every failure is a :class:`ToolResult` with an error a user can read."""
        from salon.tools.mcp_client import McpFailure

        timeout = self.timeout(server)
        try:
            connection = await self._connection(server)
            outcome = await connection.call(tool, arguments, timeout)
        except ToolError as error:
            return ToolResult(error=str(error))
        except McpFailure as failure:
            return ToolResult(error=f"MCP server '{server}' {failure}")
        except TimeoutError:
            return ToolResult(error=f"{server}.{tool} did not answer within {timeout:g} s (timeout in "
                                    f"[mcp_servers.{server}]); it was given up")
        if outcome.is_error:
            return ToolResult(error=cap(outcome.text or f"{server}.{tool} reported an error"))
        return ToolResult(output=cap(outcome.text))

    async def _connection(self, server: str) -> McpConnection:
        lock = self._locks.setdefault(server, asyncio.Lock())
        async with lock:
            connection = self._connections.get(server)
            if connection is not None and connection.alive:
                return connection
            if connection is not None:
                await connection.aclose()  # it died: start it again for this run
            from salon.tools.mcp_client import McpConnection, McpFailure

            connection = McpConnection(self.servers[server])
            try:
                await connection.start()
            except McpFailure as failure:
                await connection.aclose()
                raise ToolError(f"MCP server '{server}' ({self.describe(server)}) {failure}") from None
            self._connections[server] = connection
            return connection

    async def aclose(self) -> None:
        connections, self._connections = list(self._connections.values()), {}
        await asyncio.gather(*(c.aclose() for c in connections), return_exceptions=True)


def parse_arguments(text: str) -> dict[str, Any]:
    """A tool call's arguments as the model sent them; raises ``ValueError`` saying what is wrong."""
    if not text.strip():
        return {}
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"the arguments are not valid JSON ({error.msg} at character {error.pos})") from None
    if not isinstance(parsed, dict):
        raise ValueError("the arguments should be a JSON object")
    return parsed


def _names(servers: list[str]) -> str:
    return ", ".join(f"'{s}'" for s in servers)

"""Agent files: TOML personas parsed into immutable :class:`Agent` objects.

Errors are reported as ``path:line: reason`` and never stop the other files from loading.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from salon.agents.params import GENERATION_PARAMS, refusal
from salon.config.schema import Key, Table
from salon.config.tomlfile import KeyLines, describe, is_of, read_toml, toml_files
from salon.errors import AgentFileError, UnknownAgent

_EMPTY: Mapping[str, Any] = MappingProxyType({})

_PERSONA_KEYS = {
    "name": Key((str,), "a string"),
    "model": Key((str,), "a string like \"ollama/llama3.2\""),
    "system": Key((str,), "a string"),
    "show_streaming_message": Key((bool,), "true or false"),
    "stream": Key((bool,), "true or false"),
    "params": Key((dict,), "a table"),
    "tools": Key((list,), "an array of \"SERVER.TOOL\" or \"SERVER.*\" strings"),
    "max_iterations": Key((int,), "a whole number of at least 1"),
}
# Where requests go and what runs unasked come only from the user's config.toml, never from an agent file.
_USER_ONLY_KEYS = {
    "mcp_servers": "MCP servers are declared in your config.toml ([mcp_servers.NAME]), not in an agent file",
    "approve": "approving tools is your choice, made in your config.toml, never an agent file's",
    "approvals": "approving tools is your choice, made in your config.toml, never an agent file's",
}
DEFAULT_MAX_ITERATIONS = 8
_AGENT_KEYS = Table({
    **_PERSONA_KEYS,
    "description": Key((str,), "a string"),
    "version": Key((str,), "a string"),
    "tags": Key((list,), "a list of strings"),
    "welcome": Key((dict,), "a table"),
    "steps": Key((list,), "an array of tables ([[steps]])"),
})
_STEP_KEYS = Table({
    **_PERSONA_KEYS,
    "agent": Key((str,), "an agent id"),
    "sees_previous_steps": Key((bool,), "true or false"),
})
_WELCOME_KEYS = Table({"title": Key((str,), "a string"), "description": Key((str,), "a string")})


@dataclass(frozen=True, slots=True)
class Welcome:
    title: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Step:
    """One completion of a run: the persona that writes it and what it sees."""

    agent_id: str
    name: str
    model: str
    system: str | None = None
    params: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    show_streaming_message: bool = True
    stream: bool = True
    sees_previous_steps: bool = True
    tools: tuple[str, ...] = ()
    max_iterations: int = DEFAULT_MAX_ITERATIONS


@dataclass(frozen=True, slots=True)
class Agent:
    id: str
    name: str
    model: str
    steps: tuple[Step, ...]
    description: str = ""
    system: str | None = None
    params: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    show_streaming_message: bool = True
    stream: bool = True
    welcome: Welcome | None = None
    path: Path | None = None
    version: str = ""
    tags: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    """What loading left out or could not map (an agent folder's metadata.json), for the user to read."""
    program: Path | None = None
    """The agent.py a Python agent runs (only ever one in the user's own agents folder)."""
    tools: tuple[str, ...] = ()
    max_iterations: int = DEFAULT_MAX_ITERATIONS

    def with_model(self, model: str) -> Agent:
        """The same agent with every step sent to ``model`` (a call-level ``--model``)."""
        return replace(self, model=model, steps=tuple(replace(s, model=model) for s in self.steps))

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(step.model for step in self.steps))

    @property
    def uses_tools(self) -> bool:
        return any(step.tools for step in self.steps)


@dataclass(slots=True)
class AgentCatalog:
    """Every agent that loaded, plus the errors of those that did not."""

    agents: dict[str, Agent] = field(default_factory=dict)
    errors: list[AgentFileError] = field(default_factory=list)
    overridden: dict[str, Path] = field(default_factory=dict)

    def get(self, agent_id: str) -> Agent:
        """The agent, or its file's own error where it exists but failed to load."""
        if agent_id in self.agents:
            return self.agents[agent_id]
        for error in self.errors:
            if error.agent_id == agent_id:
                raise error
        raise UnknownAgent(agent_id, list(self.agents))

    def shadowing_errors(self, agent_id: str) -> list[AgentFileError]:
        """Errors of files with this id that did not load although an agent of the id did (a broken override)."""
        if agent_id not in self.agents:
            return []
        loaded = self.agents[agent_id].path
        return [error for error in self.errors if error.agent_id == agent_id and error.path != loaded]

    def __iter__(self) -> Iterator[Agent]:
        return iter(sorted(self.agents.values(), key=lambda a: a.id))

    def __len__(self) -> int:
        return len(self.agents)


@dataclass(slots=True)
class _Raw:
    id: str
    path: Path
    data: dict[str, Any]
    lines: KeyLines
    notes: tuple[str, ...] = ()
    program: Path | None = None


def parse_file(path: Path) -> _Raw:
    """Read and check one agent file's keys and types (references to other agents are checked later)."""
    source, data = read_toml(path, AgentFileError)
    lines = KeyLines(source)
    _check(data, _AGENT_KEYS, path, lines, ())
    if not all(isinstance(tag, str) for tag in data.get("tags", [])):
        raise AgentFileError(path, lines.of("tags"), "'tags' should be a list of strings")
    if "params" in data:
        _check_params(data["params"], path, lines, ("params",))
    if "welcome" in data:
        _check(data["welcome"], _WELCOME_KEYS, path, lines, ("welcome",))
        if "title" not in data["welcome"]:
            raise AgentFileError(path, lines.of("welcome"), "[welcome] needs a title")
    for index, step in enumerate(data.get("steps", [])):
        where = ("steps", index)
        if not isinstance(step, dict):
            raise AgentFileError(path, lines.of("steps"), "each entry of steps must be a table ([[steps]])")
        _check(step, _STEP_KEYS, path, lines, where)
        if "params" in step:
            _check_params(step["params"], path, lines, (*where, "params"))
    if "model" not in data and not data.get("steps"):
        raise AgentFileError(path, 1, "missing 'model' (for example model = \"ollama/llama3.2\")")
    return _Raw(path.stem, path, data, lines)


def _check(table: dict[str, Any], allowed: Table, path: Path, lines: KeyLines, where: tuple[Any, ...]) -> None:
    """The first problem of ``table`` (found at ``where``) as an error at its line: an agent file comes from
    elsewhere, so an unknown or mistyped key refuses it (see :mod:`salon.config.schema`)."""
    for key in table:
        if key in _USER_ONLY_KEYS:
            raise AgentFileError(path, lines.of(*where, key), f"'{_label(where, key)}': {_USER_ONLY_KEYS[key]}")
    for finding in allowed.check(table, where, lines):
        raise AgentFileError(path, finding.line, finding.message(_label(where, finding.name)))
    if "tools" in table:
        _check_tools(table["tools"], path, lines, (*where, "tools"))
    if table.get("max_iterations", 1) < 1:
        raise AgentFileError(path, lines.of(*where, "max_iterations"),
                             f"'{_label(where, 'max_iterations')}' should be "
                             f"{allowed.keys['max_iterations'].described}, not {table['max_iterations']}")


def _check_tools(patterns: list[Any], path: Path, lines: KeyLines, where: tuple[Any, ...]) -> None:
    label = _label(where[:-1], where[-1])
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise AgentFileError(path, lines.of(*where), f"'{label}' entries should be strings, not "
                                                         f"{describe(pattern)}")
        server, dot, tool = pattern.partition(".")
        if not dot or not server or not tool or "*" in server:
            raise AgentFileError(path, lines.of(*where),
                                 f"'{label}' entry {pattern!r} should name SERVER.TOOL or SERVER.* "
                                 "(for example \"time.*\")")


def _check_params(params: dict[str, Any], path: Path, lines: KeyLines, where: tuple[Any, ...]) -> None:
    for key, value in params.items():
        expected = GENERATION_PARAMS.get(key)
        if expected is None:
            # An allowlist: some keyword arguments would send the request, and the user's key, elsewhere.
            raise AgentFileError(path, lines.of(*where, key), f"[params] {refusal(_label(where, key))}")
        if not is_of(value, expected[0]):
            raise AgentFileError(path, lines.of(*where, key),
                                 f"'{_label(where, key)}' should be {expected[1]}, not {describe(value)}")


def _label(where: tuple[Any, ...], key: str) -> str:
    parts = [f"{p}[{where[i + 1] + 1}]" if p == "steps" else str(p) for i, p in enumerate(where)
             if not isinstance(p, int)]
    return ".".join([*parts, key])


def _persona(fields: Mapping[str, Any], base: Step) -> Step:
    params = dict(base.params)
    params.update(fields.get("params", {}))
    return Step(
        agent_id=base.agent_id,
        name=fields.get("name", base.name),
        model=fields.get("model", base.model),
        system=fields.get("system", base.system),
        params=MappingProxyType(params),
        show_streaming_message=fields.get("show_streaming_message", base.show_streaming_message),
        stream=fields.get("stream", base.stream),
        sees_previous_steps=fields.get("sees_previous_steps", base.sees_previous_steps),
        tools=tuple(fields["tools"]) if "tools" in fields else base.tools,
        max_iterations=fields.get("max_iterations", base.max_iterations),
    )


class _Resolver:
    def __init__(self, raws: dict[str, _Raw]) -> None:
        self.raws = raws
        self.done: dict[str, Agent] = {}
        self.failed: dict[str, AgentFileError] = {}

    def resolve(self, agent_id: str, chain: tuple[str, ...] = ()) -> Agent:
        if agent_id in self.done:
            return self.done[agent_id]
        if agent_id in self.failed:
            raise self.failed[agent_id]
        try:
            agent = self._build(agent_id, chain)
        except AgentFileError as error:
            self.failed[agent_id] = error
            raise
        self.done[agent_id] = agent
        return agent

    def _build(self, agent_id: str, chain: tuple[str, ...]) -> Agent:
        raw = self.raws[agent_id]
        data = raw.data
        top = _persona(data, Step(agent_id=agent_id, name=agent_id.replace("_", " ").title(),
                                  model=data.get("model", "")))
        steps: list[Step] = []
        for index, fields in enumerate(data.get("steps", [])):
            if ref := fields.get("agent"):
                line = raw.lines.of("steps", index, "agent")
                if ref in (*chain, agent_id):
                    cycle = " → ".join((*chain, agent_id, ref))
                    raise AgentFileError(raw.path, line, f"steps[{index + 1}] makes a cycle: {cycle}")
                if ref not in self.raws:
                    raise AgentFileError(raw.path, line, f"steps[{index + 1}] names agent '{ref}', which does "
                                                         "not exist")
                try:
                    referenced = self.resolve(ref, (*chain, agent_id))
                except AgentFileError:
                    raise AgentFileError(raw.path, line, f"steps[{index + 1}] names agent '{ref}', which "
                                                         "failed to load") from None
                if referenced.program is not None:
                    raise AgentFileError(raw.path, line, f"steps[{index + 1}] names agent '{ref}', a Python "
                                                         "agent, whose messages are its code's to write")
                for inner in referenced.steps:
                    steps.append(_persona(fields, replace(inner, sees_previous_steps=True)))
            else:
                steps.append(_persona(fields, replace(top, sees_previous_steps=True)))
        if not steps:
            steps.append(top)
        for index, step in enumerate(steps):
            if not step.model:
                raise AgentFileError(raw.path, raw.lines.of("steps", index),
                                     f"steps[{index + 1}] has no model and the agent sets none")
        welcome = data.get("welcome")
        agent = Agent(
            id=agent_id,
            name=top.name,
            model=top.model or steps[0].model,
            steps=tuple(steps),
            description=data.get("description", ""),
            system=top.system,
            params=top.params,
            show_streaming_message=top.show_streaming_message,
            stream=top.stream,
            welcome=Welcome(welcome["title"], welcome.get("description", "")) if welcome else None,
            path=raw.path,
            version=data.get("version", ""),
            tags=tuple(data.get("tags", ())),
            notes=raw.notes,
            program=raw.program,
            tools=top.tools,
            max_iterations=top.max_iterations,
        )
        return agent


def load_agents(directories: Sequence[Path]) -> AgentCatalog:
    """Load every ``*.toml`` in ``directories`` (or the files named); a later one's agent overrides an earlier's."""
    catalog = AgentCatalog()
    layers: list[dict[str, _Raw]] = []
    for directory in map(Path, directories):
        layer: dict[str, _Raw] = {}
        for path in toml_files(directory):
            try:
                layer[path.stem] = parse_file(path)
            except AgentFileError as error:
                catalog.errors.append(error)
        _add_folders(directory, layer, catalog)
        layers.append(layer)
    raws: dict[str, _Raw] = {}
    for layer in layers:
        for agent_id, raw in layer.items():
            if agent_id in raws:
                catalog.overridden[agent_id] = raws[agent_id].path
            raws[agent_id] = raw
    resolver = _Resolver(raws)
    for agent_id in sorted(raws):
        with contextlib.suppress(AgentFileError):  # recorded in resolver.failed, reported below
            catalog.agents[agent_id] = resolver.resolve(agent_id)
    catalog.errors.extend(resolver.failed[agent_id] for agent_id in sorted(resolver.failed))
    return catalog


def _add_folders(place: Path, layer: dict[str, _Raw], catalog: AgentCatalog) -> None:
    """Agent folders (``NAME/metadata.json``, ``NAME/agent.py``) in ``place``; code runs only from the user's."""
    from salon import locations
    from salon.agents.hub import agent_folders, read_folder

    own = locations.user_agents_dir().resolve()
    for folder in agent_folders(place):
        try:
            found = read_folder(folder, code_allowed=folder.resolve().parent == own)
        except AgentFileError as error:
            catalog.errors.append(error)
            continue
        if found.id in layer:
            catalog.errors.append(AgentFileError(found.path, None, f"agent '{found.id}' is also defined by "
                                                                   f"{layer[found.id].path}, which is used"))
            continue
        layer[found.id] = _Raw(found.id, found.path, found.data, KeyLines(""), found.notes, found.program)


def default_directories() -> list[Path]:
    from salon import locations

    return [locations.bundled_agents_dir(), locations.user_agents_dir()]

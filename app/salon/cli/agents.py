"""``salon agents list|show|validate|import``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from salon import locations, terminal
from salon.terminal import one_line

if TYPE_CHECKING:
    from salon.agents.definition import AgentCatalog
    from salon.cli.common import Subcommands


def add_parser(sub: Subcommands) -> None:
    agents = sub.add_parser("agents", help="list, show or validate agent files")
    actions = agents.add_subparsers(dest="agents_command", metavar="ACTION", required=True)
    terminal.add_raw_option(actions.add_parser("list", help="the agents Salon can run"))
    show = actions.add_parser("show", help="one agent's settings and steps")
    show.add_argument("agent_id")
    terminal.add_raw_option(show)
    validate = actions.add_parser("validate", help="check agent files; prints path:line: reason")
    validate.add_argument("paths", nargs="*", type=Path, help="files or folders (default: every agent folder)")
    importing = actions.add_parser(
        "import", help="copy an agent hub folder (metadata.json, agent.py) into your agents folder",
        description="Import an agent folder written for the agent hub. A metadata.json becomes a TOML agent file "
                    "in your agents folder; a folder with an agent.py (a program) is copied there whole, after "
                    "you confirm (on a terminal) or with --yes.")
    importing.add_argument("path", type=Path, help="the agent folder, or its metadata.json")
    importing.add_argument("--yes", "-y", action="store_true",
                           help="copy an agent.py without asking (you have read it)")
    importing.add_argument("--force", action="store_true", help="replace an agent of the same name")
    terminal.add_raw_option(importing)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # Names, descriptions and prompts come from agent files people share: inert on a terminal (terminal.py).
    out = terminal.writer(out, raw=getattr(args, "raw", False))
    err = terminal.writer(err)
    match args.agents_command:
        case "list":
            return _list(out, err)
        case "show":
            return _show(args.agent_id, out)
        case "validate":
            return _validate(args.paths, out)
        case "import":
            from salon.agents.importing import import_agent

            return import_agent(args.path, yes=args.yes, force=args.force, out=out, err=err, stdin=sys.stdin)
    return 2


def _catalog() -> AgentCatalog:
    from salon.agents.definition import load_agents

    return load_agents([locations.bundled_agents_dir(), locations.user_agents_dir()])


def _report_errors(catalog: AgentCatalog, err: TextIO) -> None:
    for error in catalog.errors:
        print(terminal.one_line(str(error)), file=err)


def _list(out: TextIO, err: TextIO) -> int:
    from salon.config.read import load_config

    catalog = _catalog()
    default = load_config().default_agent
    user_dir = locations.user_agents_dir()
    width = max((len(one_line(a.id)) for a in catalog), default=10) + 2
    for agent in catalog:
        marks = []
        if agent.id == default:
            marks.append("default")
        if agent.path and _home(agent.path) == user_dir:
            marks.append("overrides bundled" if agent.id in catalog.overridden else "user")
        if agent.program:
            marks.append("python")
        models = one_line(", ".join(agent.models))
        suffix = f"  [{', '.join(marks)}]" if marks else ""
        print(f"{one_line(agent.id):<{width}}{one_line(agent.name)} — {models}{suffix}", file=out)
    _report_errors(catalog, err)
    return 0


def _show(agent_id: str, out: TextIO) -> int:
    agent = _catalog().get(agent_id)
    # One-line fields keep to their line (a name could fake the next field); the description and the system
    # prompt are text, and keep their lines.
    print(f"id:          {one_line(agent.id)}", file=out)
    print(f"name:        {one_line(agent.name)}", file=out)
    if agent.description:
        print(f"description: {agent.description}", file=out)
    print(f"file:        {one_line(str(agent.path))}", file=out)
    if agent.program:
        print(f"runs:        {one_line(str(agent.program))}", file=out)
    if agent.version:
        print(f"version:     {one_line(agent.version)}", file=out)
    if agent.tags:
        print(f"tags:        {one_line(', '.join(agent.tags))}", file=out)
    for note in agent.notes:
        print(f"note:        {one_line(note)}", file=out)
    for index, step in enumerate(agent.steps, start=1):
        if len(agent.steps) > 1:
            print(f"\nstep {index}: {one_line(step.name)} ({one_line(step.agent_id)})", file=out)
        print(f"  model:                  {one_line(step.model)}", file=out)
        print(f"  stream:                 {str(step.stream).lower()}", file=out)
        print(f"  show_streaming_message: {str(step.show_streaming_message).lower()}", file=out)
        if len(agent.steps) > 1:
            print(f"  sees_previous_steps:    {str(step.sees_previous_steps).lower()}", file=out)
        if step.tools:
            tools = one_line(", ".join(step.tools))
            print(f"  tools:                  {tools} (at most {step.max_iterations} rounds)", file=out)
        for key, value in step.params.items():
            print(f"  params.{one_line(key)}: {value!r}", file=out)
        if step.system:
            print(f"  system: {step.system}", file=out)
    return 0


def _validate(paths: list, out: TextIO) -> int:
    if not paths:
        catalog = _catalog()
        checked = list(catalog)
    else:
        # Bundled agents come first so a user's step may name one; only the named files are reported.
        from salon.agents.definition import load_agents

        catalog = load_agents([locations.bundled_agents_dir(), *paths])
        named = {p.resolve() for p in paths}
        checked = [a for a in catalog if a.path and (a.path.resolve() in named or a.path.parent.resolve() in named
                                                     or _home(a.path).resolve() in named)]
    for agent in checked:
        path = one_line(str(agent.path))
        print(f"ok   {path}  ({one_line(agent.id)}: {one_line(agent.name)})", file=out)
        for note in agent.notes:
            print(f"note {path}: {one_line(note)}", file=out)
    for error in catalog.errors:
        print(one_line(str(error)), file=out)
    return 1 if catalog.errors else 0


def _home(path: Path) -> Path:
    """The agents folder an agent's file is in (an agent folder's files are one level deeper)."""
    return path.parent.parent if path.name in ("metadata.json", "agent.py") else path.parent

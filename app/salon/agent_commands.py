"""``salon agents list|show|validate``."""

from __future__ import annotations

import argparse
import sys

from salon import locations
from salon.agents import AgentCatalog, load_agents


def run(args: argparse.Namespace) -> int:
    match args.agents_command:
        case "list":
            return _list()
        case "show":
            return _show(args.agent_id)
        case "validate":
            return _validate(args.paths)
    return 2


def _catalog() -> AgentCatalog:
    return load_agents([locations.bundled_agents_dir(), locations.user_agents_dir()])


def _report_errors(catalog: AgentCatalog) -> None:
    for error in catalog.errors:
        print(error, file=sys.stderr)


def _list() -> int:
    from salon.config import load_config

    catalog = _catalog()
    default = load_config().default_agent
    user_dir = locations.user_agents_dir()
    width = max((len(a.id) for a in catalog), default=10) + 2
    for agent in catalog:
        marks = []
        if agent.id == default:
            marks.append("default")
        if agent.path and agent.path.parent == user_dir:
            marks.append("overrides bundled" if agent.id in catalog.overridden else "user")
        models = ", ".join(agent.models)
        suffix = f"  [{', '.join(marks)}]" if marks else ""
        print(f"{agent.id:<{width}}{agent.name} — {models}{suffix}")
    _report_errors(catalog)
    return 0


def _show(agent_id: str) -> int:
    agent = _catalog().get(agent_id)
    print(f"id:          {agent.id}")
    print(f"name:        {agent.name}")
    if agent.description:
        print(f"description: {agent.description}")
    print(f"file:        {agent.path}")
    for index, step in enumerate(agent.steps, start=1):
        if len(agent.steps) > 1:
            print(f"\nstep {index}: {step.name} ({step.agent_id})")
        print(f"  model:                  {step.model}")
        print(f"  stream:                 {str(step.stream).lower()}")
        print(f"  show_streaming_message: {str(step.show_streaming_message).lower()}")
        if len(agent.steps) > 1:
            print(f"  sees_previous_steps:    {str(step.sees_previous_steps).lower()}")
        for key, value in step.params.items():
            print(f"  params.{key}: {value!r}")
        if step.system:
            print(f"  system: {step.system}")
    return 0


def _validate(paths: list) -> int:
    if not paths:
        catalog = _catalog()
        checked = list(catalog)
    else:
        # Bundled agents come first so a user's step may name one; only the named files are reported.
        catalog = load_agents([locations.bundled_agents_dir(), *paths])
        named = {p.resolve() for p in paths}
        checked = [a for a in catalog if a.path and (a.path.resolve() in named or a.path.parent.resolve() in named)]
    for agent in checked:
        print(f"ok   {agent.path}  ({agent.id}: {agent.name})")
    for error in catalog.errors:
        print(error)
    return 1 if catalog.errors else 0

"""What every ``salon`` subcommand module has in common: its shape, and the options typed on either side of it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]


class Command(Protocol):
    """A module of ``salon.cli`` that is one subcommand (``salon ask``, ``salon history``…)."""

    def add_parser(self, sub: Subcommands) -> None:
        """Add the subcommand, named as its module, to the top-level subparsers."""

    def run(self, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
        """Do what ``args`` ask, writing to ``out`` and ``err`` (inert on a terminal); the exit status."""


def add_common(parser: argparse.ArgumentParser) -> None:
    """``--agent``, ``--model`` and ``--data-dir``: on the top level and on a subcommand alike, so that
    ``salon --agent x ask`` and ``salon ask --agent x`` both work."""
    default = argparse.SUPPRESS
    parser.add_argument("--agent", "-a", metavar="ID", default=default, help="the agent to run (an agent id)")
    parser.add_argument("--model", "-m", metavar="REF", default=default,
                        help="override the agent's model, e.g. ollama/qwen3, gguf/PATH.gguf or openai/gpt-4o-mini")
    parser.add_argument("--data-dir", metavar="DIR", type=Path, default=default,
                        help="where conversations are kept (default: the platform's data folder)")

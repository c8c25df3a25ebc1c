"""The ``salon`` command: the TUI by default, and pipe-friendly subcommands beside it, one module each
(:class:`~salon.cli.common.Command`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from salon import terminal
from salon.__about__ import __version__
from salon.cli import agents, ask, config, history, models, serve
from salon.cli.common import Command, add_common
from salon.cli.exitcodes import EXIT_ERROR, EXIT_INTERRUPTED
from salon.errors import SalonError

COMMANDS: Mapping[str, Command] = {"ask": ask, "agents": agents, "models": models, "history": history,
                                   "config": config, "serve": serve}
"""Each subcommand by name, in the order ``salon --help`` lists them: the module of that name in ``salon.cli``."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="salon",
        description="Chat with the language models on your own machine. With no command, opens the chat app.",
        epilog="Agents live in <config dir>/agents/ (*.toml files, and agent folders with a metadata.json or an "
               "agent.py); `salon agents list` shows them. Ollama is found at "
               "OLLAMA_HOST or [ollama] host in config.toml (default http://127.0.0.1:11434).",
    )
    parser.add_argument("--version", action="version", version=f"salon {__version__}")
    add_common(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS.values():
        command.add_parser(sub)
    return parser


_STREAM_VALUES = {"true": "--stream", "yes": "--stream", "on": "--stream", "1": "--stream",
                  "false": "--no-stream", "no": "--no-stream", "off": "--no-stream", "0": "--no-stream"}


def spell_stream_flag(argv: Sequence[str], parser: argparse.ArgumentParser) -> list[str]:
    """``--stream=true|false``, as the agent documents write it, read as ``--stream`` / ``--no-stream``.

    argparse gives a flag no value (``--stream=true`` is "ignored explicit argument"), and a flag that took an
    optional one would swallow the prompt after it (``--stream "What is virtue?"``), so the spelling is read here.
    """
    spelled: list[str] = []
    for index, arg in enumerate(argv):
        if arg == "--":
            return spelled + list(argv[index:])
        if arg.startswith("--stream="):
            value = arg.partition("=")[2]
            if value.lower() not in _STREAM_VALUES:
                parser.error(f"argument --stream: expected true or false (--stream=true, --stream=false), "
                             f"not {value!r}")
            arg = _STREAM_VALUES[value.lower()]
        spelled.append(arg)
    return spelled


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(spell_stream_flag(sys.argv[1:] if argv is None else argv, parser))
    for name in ("agent", "model", "data_dir"):
        args.__dict__.setdefault(name, None)
    args.__dict__.setdefault("raw", False)
    # What commands print comes from models, servers, files and the database: inert on a terminal (see terminal).
    out = terminal.writer(sys.stdout, raw=args.raw)
    try:
        status = _run(args, out)
        out.flush()
    except SalonError as error:
        terminal.error(str(error))
        status = EXIT_ERROR
    except KeyboardInterrupt:
        status = EXIT_INTERRUPTED
    except BrokenPipeError:
        status = terminal.EXIT_BROKEN_PIPE
    if status == terminal.EXIT_BROKEN_PIPE or terminal.reader_gone(out):
        # The reader went away (`| head`): stop quietly, as Unix tools do.
        terminal.silence_stdout()
        return terminal.EXIT_BROKEN_PIPE
    return status


def _run(args: argparse.Namespace, out: TextIO) -> int:
    if args.command is None:
        return _tui(args)
    return COMMANDS[args.command].run(args, out, terminal.writer(sys.stderr))


def _tui(args: argparse.Namespace) -> int:
    from salon.tui.app import launch

    return launch(agent_id=args.agent, model=args.model, data_dir=args.data_dir)


if __name__ == "__main__":
    sys.exit(main())

"""The ``salon`` command: the TUI by default, and pipe-friendly subcommands beside it."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from salon import terminal
from salon.__about__ import __version__
from salon.cli.exitcodes import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from salon.errors import SalonError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="salon",
        description="Chat with the language models on your own machine. With no command, opens the chat app.",
        epilog="Agents live in <config dir>/agents/ (*.toml files, and agent folders with a metadata.json or an "
               "agent.py); `salon agents list` shows them. Ollama is found at "
               "OLLAMA_HOST or [ollama] host in config.toml (default http://127.0.0.1:11434).",
    )
    parser.add_argument("--version", action="version", version=f"salon {__version__}")
    _add_common(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    ask = commands.add_parser("ask", help="send one prompt and print the reply (reads stdin if no prompt)",
                              description="Send one prompt to an agent and print its reply. Reads the prompt "
                                          "from standard input when none is given.")
    _add_common(ask)
    ask.add_argument("prompt", nargs="*", help="the prompt; standard input when omitted")
    ask.add_argument("--stream", action=argparse.BooleanOptionalAction, default=None,
                     help="--stream (or --stream=true) prints text as it arrives, also for an agent whose file "
                          "says stream = false: unlike the agent documents, the call's flag wins over the agent's; "
                          "--no-stream (or --stream=false) asks the provider for the whole reply at once "
                          "(default: the agent's own setting, final text printed)")
    ask.add_argument("--thinking", action="store_true", help="print the model's thinking to standard error")
    ask.add_argument("--usage", action="store_true", help="print tokens and timing to standard error")
    ask.add_argument("--allow-tool", dest="allow_tools", metavar="NAME", action="append", default=[],
                     help="let the agent run this tool without asking: SERVER.TOOL, or a pattern like 'time.*' "
                          "(repeatable); needed where there is no terminal to ask on")
    ask.add_argument("--deny-tools", action="store_true",
                     help="deny every tool call --allow-tool does not allow (the model is told, and answers "
                          "without it)")
    terminal.add_raw_option(ask)
    continuing = ask.add_mutually_exclusive_group()
    continuing.add_argument("--continue", "-c", dest="continue_", action="store_true",
                            help="continue the latest conversation (its history is sent to the model)")
    continuing.add_argument("--conversation", metavar="ID",
                            help="continue this conversation (an id or a unique start of one; see `salon history`)")

    agents = commands.add_parser("agents", help="list, show or validate agent files")
    agent_commands = agents.add_subparsers(dest="agents_command", metavar="ACTION", required=True)
    terminal.add_raw_option(agent_commands.add_parser("list", help="the agents Salon can run"))
    show = agent_commands.add_parser("show", help="one agent's settings and steps")
    show.add_argument("agent_id")
    terminal.add_raw_option(show)
    validate = agent_commands.add_parser("validate", help="check agent files; prints path:line: reason")
    validate.add_argument("paths", nargs="*", type=Path, help="files or folders (default: every agent folder)")
    importing = agent_commands.add_parser(
        "import", help="copy an agent hub folder (metadata.json, agent.py) into your agents folder",
        description="Import an agent folder written for the agent hub. A metadata.json becomes a TOML agent file "
                    "in your agents folder; a folder with an agent.py (a program) is copied there whole, after "
                    "you confirm (on a terminal) or with --yes.")
    importing.add_argument("path", type=Path, help="the agent folder, or its metadata.json")
    importing.add_argument("--yes", "-y", action="store_true",
                           help="copy an agent.py without asking (you have read it)")
    importing.add_argument("--force", action="store_true", help="replace an agent of the same name")
    terminal.add_raw_option(importing)

    terminal.add_raw_option(commands.add_parser("models", help="Ollama's models, GGUF files and cloud ones "
                                                                "named in config.toml"))

    from salon.cli import history as history_commands

    history_commands.add_parser(commands)

    from salon.cli import config as config_commands

    config_commands.add_parser(commands)

    from salon.cli.serve import add_parser as add_serve_parser  # the web stack itself loads only when run

    add_serve_parser(commands)
    return parser


def _add_common(parser: argparse.ArgumentParser) -> None:
    # On the top level and on subcommands alike, so `salon --agent x ask` and `salon ask --agent x` both work.
    default = argparse.SUPPRESS
    parser.add_argument("--agent", "-a", metavar="ID", default=default, help="the agent to run (an agent id)")
    parser.add_argument("--model", "-m", metavar="REF", default=default,
                        help="override the agent's model, e.g. ollama/qwen3, gguf/PATH.gguf or openai/gpt-4o-mini")
    parser.add_argument("--data-dir", metavar="DIR", type=Path, default=default,
                        help="where conversations are kept (default: the platform's data folder)")


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
    match args.command:
        case None:
            return _tui(args)
        case "ask":
            from salon.cli.ask import ask_command

            return asyncio.run(ask_command(args, out, terminal.writer(sys.stderr)))
        case "agents":
            from salon.cli import agents as agent_commands

            return agent_commands.run(args, out)
        case "models":
            return asyncio.run(_models(out))
        case "history":
            from salon.cli import history as history_commands

            return history_commands.run(args, out)
        case "config":
            from salon.cli import config as config_commands

            return config_commands.run(args)
        case "serve":
            from salon.cli.serve import serve_command

            return serve_command(args)
    return EXIT_USAGE


def _tui(args: argparse.Namespace) -> int:
    from salon.tui.app import launch

    return launch(agent_id=args.agent, model=args.model, data_dir=args.data_dir)


async def _models(out: TextIO) -> int:
    """The Ollama host's models, then GGUF files found here and the cloud models named in config.toml (listing
    those sends nothing and loads no engine)."""
    from salon.api import Session

    async with Session() as session:
        listing = await session.list_models()
    models, ollama_error = listing.models, listing.error
    for model in models:
        size = f"{model.size / 1e9:.1f} GB" if model.size else ""
        out.write(f"{model.ref:<40} {model.details:<16} {size}".rstrip() + "\n")
    if ollama_error is not None:
        terminal.error(str(ollama_error))
        return EXIT_ERROR if not models else EXIT_OK
    if not models:
        print("no models yet: download one with `ollama pull llama3.2`, or put a .gguf file in the folder "
              "`salon config path models` prints", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Write salon(1), the manual page, from the same argparse parser the ``salon`` command runs.

    python packaging/make-manpage.py -o salon.1     # then: man ./salon.1
    python packaging/make-manpage.py                # roff on standard output

Every command, subcommand, option and argument comes from ``salon.cli.dispatch.build_parser()``, walked recursively, so
a new subcommand is documented the moment it is added to the CLI. Only what argparse cannot know (environment, files,
exit codes' meaning) is written here. ``SOURCE_DATE_EPOCH`` fixes the page's date for reproducible builds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Command:
    """One node of the command tree: ``salon``, ``salon agents``, ``salon agents list``…"""

    path: tuple[str, ...]
    parser: argparse.ArgumentParser
    summary: str


# argparse has no public API for walking a parser's arguments and subcommands; every man-page generator reads the
# same three attributes. They are read here and nowhere else.
def _actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return list(parser._actions)


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) for each documented subcommand, in the order they were added."""
    for action in _actions(parser):
        if isinstance(action, argparse._SubParsersAction):
            # Choices added with help=SUPPRESS have no pseudo-action: they stay undocumented, as in --help.
            for choice in action._choices_actions:
                yield choice.dest, choice.help or "", action.choices[choice.dest]


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("salon",), summary: str = "") -> Iterator[Command]:
    yield Command(path, parser, summary)
    for name, help_text, sub in _subcommands(parser):
        yield from walk(sub, (*path, name), help_text)


# --- roff ---------------------------------------------------------------------------------------------------------

def esc(text: str) -> str:
    """Escape text for roff: backslashes, minus signs (so options copy and paste), and control characters at the
    start of a line."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return re.sub(r"^([.'])", r"\\&\1", text, flags=re.MULTILINE)


def prose(text: str) -> str:
    """Escaped text with `code spans` set in bold."""
    return re.sub(r"`([^`]+)`", r"\\fB\1\\fR", esc(text))


def _expand(help_text: str, action: argparse.Action, prog: str) -> str:
    # What argparse's HelpFormatter does for %(default)s and friends, without its private method.
    if "%" not in help_text:
        return help_text
    params = {k: v for k, v in vars(action).items() if v is not argparse.SUPPRESS}
    params["prog"] = prog
    if params.get("choices") is not None:
        params["choices"] = ", ".join(str(c) for c in params["choices"])
    try:
        return help_text % params
    except (KeyError, TypeError, ValueError):
        return help_text


def _metavar(action: argparse.Action) -> str:
    if action.metavar is not None:
        return action.metavar if isinstance(action.metavar, str) else " ".join(action.metavar)
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        return "{" + ",".join(str(c) for c in action.choices) + "}"
    return action.dest if not action.option_strings else action.dest.upper()


def _invocation(action: argparse.Action) -> str:
    """How an argument is written on the command line, in roff: ``\\fB\\-\\-model\\fR \\fIREF\\fR``."""
    if not action.option_strings:
        name = f"\\fI{esc(_metavar(action))}\\fR"
        match action.nargs:
            case "?":
                return f"[{name}]"
            case "*":
                return f"[{name} ...]"
            case "+":
                return f"{name} [{name} ...]"
        return name
    takes_value = action.nargs != 0
    forms = []
    for option in action.option_strings:
        form = f"\\fB{esc(option)}\\fR"
        if takes_value:
            form += f" \\fI{esc(_metavar(action))}\\fR"
        forms.append(form)
    return ", ".join(forms)


def _documented(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in _actions(parser)
            if a.help is not argparse.SUPPRESS and not isinstance(a, argparse._SubParsersAction)]


def _usage(parser: argparse.ArgumentParser) -> str:
    usage = " ".join(parser.format_usage().split())
    return usage.removeprefix("usage: ")


def _items(actions: list[argparse.Action], prog: str) -> list[str]:
    lines: list[str] = []
    for action in actions:
        lines += [".TP", _invocation(action)]
        help_text = _expand(action.help or "", action, prog)
        if help_text:
            lines.append(prose(help_text))
    return lines


def render(parser: argparse.ArgumentParser, version: str, date: str, exit_codes: dict[int, str]) -> str:
    commands = list(walk(parser))
    top = commands[0]
    top_keys = {tuple(a.option_strings) for a in _documented(parser) if a.option_strings}
    name_line = (parser.description or "").split(". ")[0].rstrip(".")

    out = [
        '.\\" Generated by packaging/make-manpage.py from salon.cli.dispatch.build_parser(); do not edit by hand.',
        f'.TH SALON 1 "{date}" "salon {esc(version)}" "User Commands"',
        # No hyphenation, ragged right: model references and paths must stay whole to be copied.
        ".nh",
        ".ad l",
        ".SH NAME",
        f"salon \\- {prose(name_line[:1].lower() + name_line[1:])}",
        ".SH SYNOPSIS",
    ]
    for command in commands:
        if not list(_subcommands(command.parser)) or command is top:
            out += [".nf" if command is top else "", esc(_usage(command.parser))]
    out = [line for line in out if line != ""]
    out.append(".fi")

    out += [".SH DESCRIPTION", prose(parser.description or "")]
    out += [".SH OPTIONS", *_items(_documented(parser), parser.prog)]

    out.append(".SH COMMANDS")
    for command in commands[1:]:
        out += [f'.SS "{esc(" ".join(command.path))}"', f"{esc(_usage(command.parser))}", ".PP"]
        description = command.parser.description or command.summary
        if description:
            out.append(prose(description[:1].upper() + description[1:]))
        own = [a for a in _documented(command.parser)
               if tuple(a.option_strings) not in top_keys and a.option_strings != ["-h", "--help"]]
        shared = [a for a in _documented(command.parser) if a.option_strings and tuple(a.option_strings) in top_keys
                  and a.option_strings != ["-h", "--help"]]
        out += _items(own, command.parser.prog)
        subs = list(_subcommands(command.parser))
        if subs:
            out += [".PP", "Actions: " + ", ".join(f"\\fB{esc(name)}\\fR" for name, _, _ in subs) + "."]
        if shared:
            out += [".PP", "Also accepts the global options "
                    + ", ".join(f"\\fB{esc(a.option_strings[0])}\\fR" for a in shared) + "."]

    out += [
        ".SH ENVIRONMENT",
        ".TP", "\\fBSALON_CONFIG_DIR\\fR",
        "Use this folder instead of the platform's configuration folder (agents, themes, config.toml).",
        ".TP", "\\fBSALON_DATA_DIR\\fR",
        "Use this folder instead of the platform's data folder (conversations).",
        ".TP", "\\fBOLLAMA_HOST\\fR",
        "The Ollama server, unless config.toml names one (default http://127.0.0.1:11434).",
        ".TP", "\\fBOPENAI_API_KEY\\fR, \\fBANTHROPIC_API_KEY\\fR, ...",
        "Keys for cloud models, read by litellm only when a cloud model is used. They are never stored.",
        ".SH FILES",
        ".TP", esc("$XDG_CONFIG_HOME/salon/config.toml") + " (default " + esc("~/.config/salon/config.toml") + ")",
        "Settings.",
        ".TP", esc("$XDG_CONFIG_HOME/salon/agents/*.toml"),
        "Your agents; one overrides a bundled agent of the same id.",
        ".TP", esc("$XDG_CONFIG_HOME/salon/themes/*.toml"),
        "Your themes.",
        ".TP", esc("$XDG_DATA_HOME/salon/") + " (default " + esc("~/.local/share/salon/") + ")",
        "Conversations.",
        ".SH EXIT STATUS",
    ]
    out += [".TP", str(0), "Success."]
    for code, meaning in sorted(exit_codes.items()):
        out += [".TP", str(code), esc(meaning)]
    if parser.epilog:
        out += [".SH NOTES", prose(parser.epilog)]
    out += [".SH SEE ALSO", "\\fBollama\\fR(1)"]
    return "\n".join(out) + "\n"


def page_date() -> str:
    if epoch := os.environ.get("SOURCE_DATE_EPOCH"):
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date().isoformat()
    return dt.date.today().isoformat()


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description="Generate salon(1) from the salon command's parser.")
    options.add_argument("-o", "--output", type=Path, help="write here instead of standard output")
    args = options.parse_args(argv)

    # Document this checkout's CLI, not whichever salon happens to be installed.
    sys.path.insert(0, str(ROOT / "app"))
    from salon.__about__ import __version__
    from salon.cli import dispatch as cli
    from salon.cli import exitcodes

    exit_codes = {exitcodes.EXIT_ERROR: "An error; the message on standard error says what to do.",
                  exitcodes.EXIT_USAGE: "The command line could not be understood.",
                  exitcodes.EXIT_INTERRUPTED: "Interrupted (Ctrl+C); a partial reply has been printed."}
    page = render(cli.build_parser(), __version__, page_date(), exit_codes)
    if args.output:
        args.output.write_text(page, encoding="utf-8")
    else:
        sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A real MCP server over stdio, written with the official ``mcp`` SDK, whose tools misbehave on request.

    [mcp_servers.lab]
    command = "/path/to/python"
    args = ["/path/to/tests/servers/mcp_tools.py"]

Tools: ``echo`` answers, ``fail`` raises, ``hang`` never returns, ``flood`` returns megabytes, ``die`` ends the
process mid-call, ``clock`` gives a fixed time for a timezone. ``--exit-at-start`` makes the server exit before
speaking, as a broken install does; ``--log FILE`` appends each call's name, so a test can see what ran;
``--http PORT`` serves streamable HTTP at ``http://127.0.0.1:PORT/mcp`` instead of stdio; ``--echo-as NAME`` also
offers ``echo`` under another name (``x.y``), so two servers can offer names that clean up alike.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from mcp.server.mcpserver import MCPServer

server = MCPServer("salon-lab")
_log: Path | None = None


def _note(name: str, **arguments: object) -> None:
    if _log is not None:
        with _log.open("a", encoding="utf-8") as handle:
            handle.write(f"{name} {sorted(arguments.items())}\n")


@server.tool()
def echo(text: str) -> str:
    """Say the text back."""
    _note("echo", text=text)
    return text


@server.tool()
def clock(timezone: str) -> str:
    """The current time in a timezone (always the same one, for tests)."""
    _note("clock", timezone=timezone)
    return f'{{"timezone": "{timezone}", "datetime": "2026-12-02T23:30:00+09:00"}}'


@server.tool()
def fail(reason: str = "the disk is on fire") -> str:
    """Raise an error."""
    _note("fail", reason=reason)
    raise RuntimeError(reason)


@server.tool()
def hang(seconds: float = 3600) -> str:
    """Take a very long time."""
    _note("hang", seconds=seconds)
    time.sleep(seconds)
    return "woke up"


@server.tool()
def flood(megabytes: int = 5) -> str:
    """Return megabytes of text."""
    _note("flood", megabytes=megabytes)
    return "x" * (megabytes * 1024 * 1024)


@server.tool()
def die() -> str:
    """End the server's process mid-call."""
    _note("die")
    sys.stdout.flush()
    os._exit(3)


def _echo_as(name: str):
    def echo_named(text: str) -> str:
        _note(name, text=text)
        return f"{name}: {text}"

    return echo_named


def main() -> None:
    global _log
    parser = argparse.ArgumentParser()
    parser.add_argument("--exit-at-start", action="store_true")
    parser.add_argument("--log", type=Path)
    parser.add_argument("--http", type=int, metavar="PORT", help="serve streamable HTTP on 127.0.0.1:PORT/mcp")
    parser.add_argument("--echo-as", action="append", default=[], metavar="NAME")
    args = parser.parse_args()
    for name in args.echo_as:
        server.add_tool(_echo_as(name), name=name, description=f"Say the text back (as {name}).")
    if args.exit_at_start:
        print("salon-lab: cannot open its database (on purpose, for a test)", file=sys.stderr)
        sys.exit(2)
    _log = args.log
    if args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.http)
    else:
        server.run("stdio")


if __name__ == "__main__":
    main()

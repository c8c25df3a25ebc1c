"""Positions and wording for errors in Salon's TOML files (agents, themes), since tomllib keeps no positions."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from salon.errors import FileError

_POSITION = re.compile(r"\s*\((at line \d+, column \d+|at end of document)\)")


def read_toml(path: Path, error: type[FileError]) -> tuple[str, dict[str, Any]]:
    """A TOML file's text and table; an unreadable or invalid file raises ``error(path, line, reason)``."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(path, None, f"cannot read: {exc}") from exc
    try:
        return source, tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        line, reason = error_position(exc, source)
        raise error(path, line, f"invalid TOML: {reason}") from exc


def error_position(error: tomllib.TOMLDecodeError, source: str) -> tuple[int, str]:
    """The line a TOML syntax error points at, and its message without the position."""
    text = str(error)
    match = re.search(r"line (\d+)", text)
    # "at end of document": an unterminated string or table ran off the end, so point at the last line.
    line = int(match.group(1)) if match else max(len(source.splitlines()), 1)
    return line, _POSITION.sub("", text)


class KeyLines:
    """Where each key and table of a TOML source sits, addressed like ``("steps", 0, "params", "seed")``."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
    _KEY = re.compile(r"^\s*(\"[^\"]+\"|'[^']+'|[A-Za-z0-9_-]+)\s*=")

    def __init__(self, source: str) -> None:
        self.keys: dict[tuple[Any, ...], int] = {}
        self.tables: dict[tuple[Any, ...], int] = {}
        table: tuple[Any, ...] = ()
        arrays: dict[str, int] = {}
        for number, line in enumerate(source.splitlines(), start=1):
            if header := self._HEADER.match(line):
                brackets, name = header.groups()
                parts = [part.strip().strip("\"'") for part in name.split(".")]
                if brackets == "[[":
                    arrays[name] = arrays.get(name, -1) + 1
                    table = (*parts, arrays[name])
                elif parts[0] in arrays:
                    table = (parts[0], arrays[parts[0]], *parts[1:])
                else:
                    table = tuple(parts)
                self.tables.setdefault(table, number)
            elif key := self._KEY.match(line):
                self.keys.setdefault((*table, key.group(1).strip("\"'")), number)

    def find(self, *path: Any) -> int | None:
        """The line of exactly this key or table, if the source has one.

        A table only implied by a dotted header (``[mcp_servers.x]`` implies ``mcp_servers``) is where its first
        header is.
        """
        found = self.keys.get(path) or self.tables.get(path)
        if found is None:
            nested = [line for table, line in self.tables.items() if table[:len(path)] == path]
            found = min(nested, default=None)
        return found

    def of(self, *path: Any) -> int:
        """The line of ``path``, or of the nearest enclosing key or table that has one, or 1."""
        while path:
            if found := self.find(*path):
                return found
            path = path[:-1]
        return 1


def describe(value: Any) -> str:
    """A TOML value as a user wrote it, for "should be X, not Y" messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def toml_files(place: Path) -> list[Path]:
    """The ``*.toml`` files of a folder, in name order; a file named itself; nothing where nothing is."""
    if place.is_dir():
        return sorted(place.glob("*.toml"))
    return [place] if place.exists() else []


def is_of(value: Any, types: type | tuple[type, ...]) -> bool:
    """``isinstance``, except that ``true`` is never a number: bool is an int to Python, never in a user's file."""
    wanted = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool) and bool not in wanted:
        return False
    return isinstance(value, wanted)

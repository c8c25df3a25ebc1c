"""The keys a file format accepts, declared once, and one check of a parsed table against them.

Every file Salon reads from a person (config.toml, agent files, a hub's metadata.json, themes, ``[mcp_servers]``,
``[keymap]``) is checked here the same way: a key the table does not declare is *unknown* (named with the closest
declared key, if one is close, and the keys it could have been), a value of another type is *mistyped* (named with
what the key takes and what it holds), and each finding carries the line it is on wherever the format keeps one.
What a finding costs is the one policy, by whose file it is:

- a file that came from elsewhere (an agent file, a theme, an MCP server's table) is refused, at ``file:line``;
- the user's own config.toml is never refused, so that Salon always starts: the setting is ignored, with a warning;
- a hub's metadata.json holds fields written for the hub: one Salon does not use is kept out, with a note.

The wording of each format's messages stays its own (tests and users read them); the finding is the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from salon.config.tomlfile import describe as describe_toml
from salon.config.tomlfile import is_of


class Lines(Protocol):
    """Where a key sits in its file (:class:`salon.config.tomlfile.KeyLines` for TOML)."""

    def of(self, *path: Any) -> int: ...


@dataclass(frozen=True, slots=True)
class Key:
    """One key a table may hold: the types it takes and how a message names them (``"true or false"``).

    ``table`` declares the keys of a value that is itself a table, checked in turn.
    """

    types: tuple[type, ...]
    described: str
    table: Table | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """One key that is not as its table declares: ``unknown``, or ``mistyped`` (its ``key`` says what it takes)."""

    kind: Literal["unknown", "mistyped"]
    path: tuple[Any, ...]
    """The key's address from the file's top, as :class:`Lines` takes it: ``("steps", 1, "modle")``."""
    value: Any
    line: int | None
    table: Table
    key: Key | None = None

    @property
    def name(self) -> str:
        return str(self.path[-1])

    def message(self, label: str) -> str:
        """The shared wording, with the key named as ``label`` (``steps[2].modle``, ``details.icon``)."""
        if self.kind == "unknown":
            return (f"unknown key '{label}'{suggestion(self.name, self.table.keys)} "
                    f"({self.table.listing}: {', '.join(self.table.keys)})")
        assert self.key is not None
        return f"'{label}' should be {self.key.described}, not {self.table.describe(self.value)}"


@dataclass(frozen=True, slots=True)
class Table:
    """The keys one table of a format declares.

    ``listing`` opens the list of them in a message about an unknown key; ``describe`` names a value as the
    format writes it (TOML's ``a table``, JSON's ``an object``).
    """

    keys: Mapping[str, Key]
    listing: str = "expected one of"
    describe: Callable[[Any], str] = field(default=describe_toml)

    def check(self, table: Mapping[str, Any], where: tuple[Any, ...] = (), lines: Lines | None = None
              ) -> Iterator[Finding]:
        """Each unknown or mistyped key of ``table`` (found at ``where``), in the file's order, then those of
        the tables its keys declare."""
        for name, value in table.items():
            path = (*where, name)
            key = self.keys.get(name)
            line = lines.of(*path) if lines is not None else None
            if key is None:
                yield Finding("unknown", path, value, line, self)
            elif not is_of(value, key.types):
                yield Finding("mistyped", path, value, line, self, key)
            elif key.table is not None and isinstance(value, Mapping):
                yield from key.table.check(value, path, lines)


def suggestion(word: str, choices: Sequence[str] | Mapping[str, Any]) -> str:
    """`` (did you mean 'x'?)`` for the choice closest to a mistyped ``word``, or nothing when none is close."""
    import difflib  # only when there is something to suggest: config.toml is read at every start

    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""

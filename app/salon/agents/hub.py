"""Agent folders as the agent hub writes them: ``NAME/metadata.json`` (and ``agent.py``) read as Salon agents.

The metadata's fields become the keys a TOML agent file would have, so a folder agent and an imported TOML file
are the same agent. Fields Salon has no use for are kept out with a note, never an error; a field Salon uses with
the wrong type is an error located as ``path:line``, like a TOML agent's.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salon.config.schema import Key, Table
from salon.config.tomlfile import describe
from salon.errors import AgentFileError

METADATA = "metadata.json"
PROGRAM = "agent.py"
_DEFAULTS = ("details", "agent", "defaults")


def _described(value: Any) -> str:
    """A JSON value as a message names it."""
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    return describe(value)


def _object(keys: dict[str, Key]) -> Table:
    return Table(keys, describe=_described)


_STRING = Key((str,), "a string")
_WHOLE_NUMBER = Key((int,), "a whole number")
_METADATA = _object({
    "name": _STRING,
    "version": _STRING,
    "description": _STRING,
    "tags": Key((list,), "a list of strings"),
    "category": _STRING,
    "details": Key((dict,), "an object", _object({
        "display_name": _STRING,
        "agent": Key((dict,), "an object", _object({
            "show_streaming_message": Key((bool,), "true or false"),
            "welcome": Key((dict,), "an object", _object({"title": _STRING, "description": _STRING})),
            "defaults": Key((dict,), "an object", _object({
                "model": _STRING,
                "model_provider": _STRING,
                "model_max_tokens": _WHOLE_NUMBER,
                "model_temperature": Key((int, float), "a number"),
                "max_iterations": Key((int,), "a whole number of at least 1"),
            })),
        })),
    })),
})
"""What Salon reads of a hub's metadata.json; a field it does not declare is kept out, with a note."""

MAX_METADATA_BYTES = 256 * 1024
"""A metadata.json names an agent and its model; one this big is something else (a hub's are a few kB)."""
MAX_NAME_CHARS = 200
"""An agent's name is shown on one line of every list and picker."""

HUB_DEFAULT_PROVIDER = "fireworks"
"""The provider the agent hub uses when a metadata file names a model but no provider."""


@dataclass(frozen=True, slots=True)
class FolderAgent:
    """One agent folder, read: the agent as a TOML file would say it, plus what did not fit."""

    id: str
    path: Path
    """metadata.json (agent.py when there is none): where errors about the agent point."""
    data: dict[str, Any]
    notes: tuple[str, ...] = ()
    program: Path | None = None
    """agent.py, for a Python agent."""
    max_iterations: int | None = None
    """details.agent.defaults.max_iterations (also the agent's own ``max_iterations``)."""


def is_agent_folder(folder: Path) -> bool:
    return folder.is_dir() and ((folder / METADATA).is_file() or (folder / PROGRAM).is_file())


def agent_folders(place: Path) -> list[Path]:
    """The agent folders ``place`` names: itself (or the folder of a metadata.json / agent.py), or those in it."""
    if place.is_file():
        return [place.parent] if place.name in (METADATA, PROGRAM) else []
    if is_agent_folder(place):
        return [place]
    if not place.is_dir():
        return []
    return sorted(f for f in place.iterdir() if not f.name.startswith(".") and is_agent_folder(f))


def read_folder(folder: Path, *, code_allowed: bool) -> FolderAgent:
    """Read one agent folder; ``code_allowed``: whether its agent.py may run (only in the user's own folder)."""
    if (folder / PROGRAM).is_file():
        check_program(folder / PROGRAM, code_allowed)
    return describe_folder(folder)


def describe_folder(folder: Path) -> FolderAgent:
    """The agent a folder's metadata.json describes (its agent.py named, not checked: see :func:`check_program`)."""
    metadata, program = folder / METADATA, folder / PROGRAM
    has_program = program.is_file()
    if not metadata.is_file():
        raise AgentFileError(program, None, f"a Python agent needs a {METADATA} beside it, naming at least its "
                                            "model (details.agent.defaults.model and model_provider)")
    data, notes, max_iterations = read_metadata(metadata)
    if not data.get("model"):
        raise AgentFileError(metadata, _JsonLines(metadata).of(*_DEFAULTS),
                             "no model: set details.agent.defaults.model and model_provider (for example "
                             "\"llama3.2\" and \"ollama\")")
    agent_id = folder.name if folder.name not in ("", ".", "..") else folder.resolve().name
    return FolderAgent(agent_id, metadata, data, tuple(notes), program if has_program else None, max_iterations)


def check_program(program: Path, code_allowed: bool) -> None:
    """Refuse an agent.py that must not run here; report one that cannot compile with its line."""
    if not code_allowed:
        from salon import locations

        raise AgentFileError(program, None, "a Python agent runs only from your own agents folder "
                                            f"({locations.user_agents_dir()}); `salon agents import "
                                            f"{program.parent}` copies it there after asking")
    if refusal := program_refusal(program):
        raise AgentFileError(program, None, refusal)
    compile_program(program)


def program_refusal(program: Path, home: Path | None = None) -> str | None:
    """Why ``program`` must not run because someone else could have written it, or None.

    A Python agent runs with the user's permissions, so it runs only if the user alone could have written every
    part of it: agent.py and the other Python files of its folder owned by the user (or root) and writable by
    nobody else, and so for each folder from its own up to the agents folder ``home`` (the user's, by default),
    since whoever can write a folder can put another program in place of the one the user read.
    """
    if home is None:
        from salon import locations

        home = locations.user_agents_dir()
    folder = program.parent
    try:
        resolved_home = home.resolve()
        chain = [folder]
        while chain[-1].resolve() != resolved_home and chain[-1].parent != chain[-1]:
            chain.append(chain[-1].parent)
        files = [program, *_python_files(folder, program)]
        if program.is_symlink():
            chain.append(program.resolve().parent)  # where the program really is can be rewritten too
        for path in (*files, *chain):
            if why := _written_by_others(path, program):
                return why
    except OSError as exc:
        return f"cannot check who can change it: {exc.strerror or exc}"
    return None


def _python_files(folder: Path, program: Path) -> list[Path]:
    """The folder's sub-folders and other Python files: agent.py can import them, so they are part of it."""
    found: list[Path] = []
    for root, dirs, names in os.walk(folder):  # never into linked folders
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        found += [Path(root) / d for d in dirs]
        found += [Path(root) / n for n in sorted(names) if n.endswith(".py") and Path(root) / n != program]
    return found


def _written_by_others(path: Path, program: Path) -> str | None:
    """Why someone other than the user (or root) could have written ``path``, or None."""
    info = path.stat()
    uid = os.getuid()
    what = "this program" if path == program else (
        f"the folder {path}" if stat.S_ISDIR(info.st_mode) else f"the file {path}")
    if info.st_uid not in (uid, 0):
        return (f"{what} belongs to {_user_name(info.st_uid)}, not to you, and {_ONLY_YOURS}; "
                f"`chown {_user_name(uid, bare=True)} {path}` if you have read it and trust it")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        who = "anyone" if info.st_mode & stat.S_IWOTH else "its group"
        return (f"others can change {what} ({who} may write it: mode {stat.S_IMODE(info.st_mode):04o}), and "
                f"{_ONLY_YOURS}; `chmod go-w {path}` if it is yours")
    return None


_ONLY_YOURS = "Salon runs a Python agent only if you alone could have written it (it runs with your permissions)"


def _user_name(uid: int, *, bare: bool = False) -> str:
    try:
        import pwd

        name = pwd.getpwuid(uid).pw_name
    except (KeyError, ImportError):
        return str(uid) if bare else f"uid {uid}"
    return name if bare else f"{name} (uid {uid})"


def compile_program(program: Path) -> None:
    """Compile agent.py without running it: a syntax error is reported as ``path:line``."""
    try:
        source = program.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AgentFileError(program, None, f"cannot read: {exc}") from exc
    try:
        compile(source, str(program), "exec")
    except SyntaxError as exc:
        raise AgentFileError(program, exc.lineno, f"invalid Python: {exc.msg}") from exc
    except ValueError as exc:  # null bytes
        raise AgentFileError(program, None, f"invalid Python: {exc}") from exc


def read_metadata(path: Path) -> tuple[dict[str, Any], list[str], int | None]:
    """A metadata.json as a TOML agent's keys, the notes about what was kept out, and max_iterations."""
    try:
        size = path.stat().st_size
        if size > MAX_METADATA_BYTES:
            raise AgentFileError(path, None, f"is {size:,} bytes, more than the {MAX_METADATA_BYTES:,} a "
                                             f"{METADATA} may be; Salon reads it only to name an agent and its "
                                             "model, so shorten its description or welcome")
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AgentFileError(path, None, f"cannot read: {exc}") from exc
    try:
        document = json.loads(source)
    except json.JSONDecodeError as exc:
        raise AgentFileError(path, exc.lineno, f"invalid JSON: {exc.msg}") from exc
    lines = _JsonLines(path, source)
    if not isinstance(document, dict):
        raise AgentFileError(path, 1, f"should be a JSON object, not {_described(document)}")
    kept_out = list(_check(document, path, lines))
    category = document.get("category", "agent")
    if category != "agent":
        raise AgentFileError(path, lines.of("category"), f"is a {category!r}, not an agent (category \"agent\")")
    details = document.get("details", {})
    agent = details.get("agent", {})
    defaults = agent.get("defaults", {})
    data: dict[str, Any] = {}
    name = details.get("display_name") or document.get("name")
    if name and len(name) > MAX_NAME_CHARS:
        field = ("details", "display_name") if details.get("display_name") else ("name",)
        raise AgentFileError(path, lines.of(*field), f"'{_dotted(field)}' is {len(name):,} characters long; a "
                                                     f"name is shown on one line and may be at most {MAX_NAME_CHARS}")
    if name:
        data["name"] = name
    for key in ("description", "version"):
        if key in document:
            data[key] = document[key]
    if "tags" in document:
        data["tags"] = document["tags"]
    if "show_streaming_message" in agent:
        data["show_streaming_message"] = agent["show_streaming_message"]
    welcome = agent.get("welcome")
    if welcome:
        title = welcome.get("title") or name or path.parent.name
        data["welcome"] = {"title": title, **({"description": welcome["description"]}
                                              if welcome.get("description") else {})}
    notes: list[str] = []
    if defaults.get("model"):
        ref, note = model_ref(defaults.get("model_provider"), defaults["model"])
        data["model"] = ref
        if note:
            notes.append(note)
    params = {}
    if "model_max_tokens" in defaults:
        params["max_tokens"] = defaults["model_max_tokens"]
    if "model_temperature" in defaults:
        params["temperature"] = defaults["model_temperature"]
    if params:
        data["params"] = params
    max_iterations = defaults.get("max_iterations")
    if max_iterations is not None:
        data["max_iterations"] = max_iterations
    if kept_out:
        notes.append("kept out (Salon has no use for them): " + ", ".join(kept_out))
    return data, notes, max_iterations


def model_ref(provider: str | None, model: str) -> tuple[str, str | None]:
    """Salon's model reference for the hub's provider and model, and a note when Salon cannot reach it as is."""
    if "::" in model and provider is None:
        provider, _, model = model.partition("::")  # the hub's full form, "fireworks::accounts/…"
    if provider is None and model.startswith("ollama/"):
        return model, None
    provider = provider or HUB_DEFAULT_PROVIDER
    if provider == "ollama":
        return f"ollama/{model}", None
    instead = "pass --model to use another (for example --model ollama/llama3.2, or choose one with ctrl+o)"
    if provider == "fireworks":
        # litellm's name for it, and Fireworks' own model path, which the hub's short names leave out.
        path = model if model.startswith("accounts/") else f"accounts/fireworks/models/{model}"
        ref = f"fireworks_ai/{path}"
        return ref, (f"model: the hub runs {model!r} on Fireworks, a cloud service; Salon reaches it as {ref} only "
                     f"with FIREWORKS_AI_API_KEY set — {instead}")
    ref = f"{provider}/{model}"
    return ref, (f"model: {provider!r} is the hub's provider name; Salon reaches {ref} only if litellm knows "
                 f"{provider!r} (with its API key) or config.toml has [providers.{provider}] — {instead}")


def _check(document: dict[str, Any], path: Path, lines: _JsonLines) -> Iterator[str]:
    """Type-check the fields Salon uses; yield the dotted names of those it does not (the hub's own fields)."""
    for finding in _METADATA.check(document, (), lines):
        if finding.kind == "unknown":
            yield _dotted(finding.path)
        else:
            raise AgentFileError(path, finding.line, finding.message(_dotted(finding.path)))
    tags = document.get("tags", [])
    if not all(isinstance(tag, str) for tag in tags):
        raise AgentFileError(path, lines.of("tags"), f"'tags' should be a list of strings, not {_described(tags)}")
    details = document.get("details", {})
    defaults = details.get("agent", {}).get("defaults", {})
    for key in ("max_iterations", "model_max_tokens"):
        if defaults.get(key, 1) < 1:
            raise AgentFileError(path, lines.of(*_DEFAULTS, key),
                                 f"'{_dotted((*_DEFAULTS, key))}' should be at least 1, not {defaults[key]}")


def _dotted(path: tuple[str, ...]) -> str:
    # Keys come from a file someone else wrote: quoted where they would not read as one name.
    return ".".join(p if p.replace("_", "").isalnum() and p.isascii() else json.dumps(p) for p in path)


class _JsonLines:
    """Where each key of a JSON document sits, addressed by its path of keys (json keeps no positions)."""

    def __init__(self, path: Path, source: str | None = None) -> None:
        self.keys: dict[tuple[str, ...], int] = {}
        self._path = path
        self._source = source
        self._scanned = False

    def _ensure_scanned(self) -> None:
        # Scanned only when an error needs a line: a character at a time, too slow to pay for every good file.
        if self._scanned:
            return
        self._scanned = True
        source = self._source
        if source is None:
            try:
                source = self._path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                source = ""
        self._source = None
        self._scan(source)

    def _scan(self, source: str) -> None:
        line, index, size = 1, 0, len(source)
        stack: list[tuple[tuple[str, ...], bool]] = []  # per open container: its key path, and whether an array
        last_key: str | None = None
        while index < size:
            char = source[index]
            if char == "\n":
                line += 1
            elif char == '"':
                end = index + 1
                while end < size and source[end] != '"':
                    end += 2 if source[end] == "\\" else 1
                raw = source[index:end + 1]
                index = end
                is_key = source[end + 1:end + 200].lstrip(" \t\r\n").startswith(":")
                if is_key and stack and not stack[-1][1]:
                    try:
                        last_key = json.loads(raw)
                    except ValueError:
                        last_key = None
                    if last_key is not None:
                        self.keys.setdefault((*stack[-1][0], last_key), line)
            elif char in "{[":
                if not stack:
                    here: tuple[str, ...] = ()
                elif stack[-1][1]:
                    here = (*stack[-1][0], "[]")  # inside an array: never one of the paths asked for
                else:
                    here = (*stack[-1][0], last_key or "")
                stack.append((here, char == "["))
                last_key = None
            elif char in "}]" and stack:
                stack.pop()
            index += 1

    def of(self, *path: str) -> int:
        """The line of ``path``, or of the nearest enclosing key that has one, or 1."""
        self._ensure_scanned()
        while path:
            if found := self.keys.get(tuple(path)):
                return found
            path = path[:-1]
        return 1

"""``salon agents import PATH``: an agent hub folder (or its metadata.json) into the user's own agents folder.

A metadata-only agent becomes a TOML agent file, ``<agents>/NAME.toml``. A folder with an ``agent.py`` is a
program: it is copied whole to ``<agents>/NAME/`` — the only place Python agents run from — and only after the
user said yes (on a terminal) or passed ``--yes``. Everything written is private (0600 files, 0700 folders).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TextIO

import tomli_w

from salon import locations
from salon.agents.hub import METADATA, PROGRAM, FolderAgent, compile_program, describe_folder, is_agent_folder
from salon.errors import SalonError
from salon.terminal import is_terminal, one_line

FILE_MODE = 0o600
DIR_MODE = 0o700
MAX_PROGRAM_FILES = 200
MAX_PROGRAM_BYTES = 10 * 1024 * 1024
"""What a Python agent's folder may hold to be imported: an agent is a program and its metadata, not a data set."""


def import_agent(path: Path, *, yes: bool, force: bool, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Import the agent at ``path``; returns the exit status (1 when the user declined)."""
    folder = path.parent if path.is_file() else path
    if path.is_file() and path.name not in (METADATA, PROGRAM):
        raise SalonError(f"{path}: `salon agents import` takes an agent folder or its {METADATA}")
    if not is_agent_folder(folder):
        raise SalonError(f"{folder}: no {METADATA} or {PROGRAM} here; `salon agents import` takes an agent folder "
                         f"or its {METADATA}")
    agent = describe_folder(folder)
    shadowed = _check_shadowing(agent.id, force)
    if agent.program is not None:
        return _import_program(folder, agent, shadowed, yes=yes, force=force, out=out, err=err, stdin=stdin)
    target = locations.user_agents_dir() / f"{agent.id}.toml"
    if (target.exists() or target.is_symlink()) and not force:
        raise SalonError(f"{target} already exists; `--force` replaces it")
    _write_private(target, toml_text(agent))
    _tell_imported(agent, target, shadowed, out)
    return 0


def _check_shadowing(agent_id: str, force: bool) -> Path | None:
    """The bundled agent an import of ``agent_id`` would shadow; refused without ``--force``.

    A user's agent replaces the bundled one of the same id everywhere, the default persona (``assistant``)
    included, so a folder that happens to be named like one must not take its place unasked.
    """
    from salon.agents.definition import load_agents

    bundled = load_agents([locations.bundled_agents_dir()]).agents.get(agent_id)
    if bundled is None or bundled.path is None:
        return None
    if not force:
        raise SalonError(f"'{agent_id}' is the id of a bundled agent ({bundled.name}, {bundled.path}); importing "
                         f"it would replace that agent everywhere{_default_note(agent_id)}. Rename the folder to "
                         "import it beside it, or pass --force to shadow it")
    return bundled.path


def _default_note(agent_id: str) -> str:
    from salon.config.read import load_config

    return ", as the default agent too" if load_config().default_agent == agent_id else ""


def _tell_imported(agent: FolderAgent, target: Path, shadowed: Path | None, out: TextIO) -> None:
    print(f"imported {one_line(agent.id)} → {one_line(str(target))}", file=out)
    if shadowed is not None:
        print(f"note: it shadows the bundled agent {shadowed}{_default_note(agent.id)}; delete {target} to have "
              "the bundled one back", file=out)
    _tell_notes(agent, out)


def toml_text(agent: FolderAgent) -> str:
    """The TOML agent file for a folder agent, its notes as comments above the keys."""
    lines = [f"# Imported by `salon agents import` from {agent.path}"]
    lines += [f"# note: {note}" for note in agent.notes]
    return "\n".join(_comment_safe(line) for line in lines) + "\n\n" + tomli_w.dumps(agent.data)


def _comment_safe(line: str) -> str:
    # Text from someone else's file in a TOML comment: a newline in it would start a key of their choosing.
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in line)


def _tell_notes(agent: FolderAgent, out: TextIO) -> None:
    for note in agent.notes:
        print(f"note: {one_line(note)}", file=out)


def _import_program(folder: Path, agent: FolderAgent, shadowed: Path | None, *, yes: bool, force: bool,
                    out: TextIO, err: TextIO, stdin: TextIO) -> int:
    compile_program(folder / PROGRAM)
    target = locations.user_agents_dir() / agent.id
    if (target.exists() or target.is_symlink()) and not force:
        raise SalonError(f"{target} already exists; `--force` replaces it")
    files = _files(folder)
    _check_size(folder, files)
    warning = (f"{folder / PROGRAM} is a Python program: once imported, it runs with your permissions whenever "
               f"you chat with '{agent.id}'. Read it before you say yes.\nIt would copy {len(files)} file(s) to "
               f"{target}: {', '.join(str(f) for f in files)}")
    if not yes:
        if not is_terminal(stdin):
            raise SalonError(f"{folder / PROGRAM} is a Python program; not copied without asking. Run this on a "
                             "terminal to be asked, or pass --yes if you have read it")
        print(warning, file=err)
        err.write("Copy it? [y/N] ")
        err.flush()
        answer = stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            print("not imported", file=err)
            return 1
    _copy_private(folder, files, target)
    _tell_imported(agent, target, shadowed, out)
    return 0


def _check_size(folder: Path, files: list[Path]) -> None:
    if len(files) > MAX_PROGRAM_FILES:
        raise SalonError(f"{folder}: holds {len(files):,} files, more than the {MAX_PROGRAM_FILES} an agent folder "
                         "may bring; import a folder holding only the agent (its agent.py, metadata.json and the "
                         "modules it imports)")
    total = sum((folder / f).stat().st_size for f in files)
    if total > MAX_PROGRAM_BYTES:
        raise SalonError(f"{folder}: its files come to {total:,} bytes, more than the {MAX_PROGRAM_BYTES:,} an "
                         "agent folder may bring; import a folder holding only the agent (its agent.py, "
                         "metadata.json and the modules it imports)")


def _files(folder: Path) -> list[Path]:
    """The folder's regular files, relative to it: no links (they could point anywhere), no caches or dot files."""
    found: list[Path] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__"
                         and not (Path(root) / d).is_symlink())
        for name in sorted(names):
            path = Path(root) / name
            if not name.startswith(".") and not path.is_symlink() and path.is_file():
                found.append(path.relative_to(folder))
    return found


def _copy_private(folder: Path, files: list[Path], target: Path) -> None:
    """Copy ``files`` into a new private folder, then put it in place of ``target`` in one rename."""
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))  # created 0700
    try:
        for relative in files:
            destination = staging / relative
            destination.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
            descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write((folder / relative).read_bytes())
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise SalonError(f"{target}: cannot import: {exc.strerror or exc}") from exc


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise SalonError(f"{path}: cannot import: {exc.strerror or exc}") from exc



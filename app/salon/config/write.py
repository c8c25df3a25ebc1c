"""Saving settings back to ``config.toml``: atomically, mode 0600, keeping every key Salon does not touch.

The app calls :func:`save_setting` when the user picks a theme or a default agent, and :func:`update_config`
from the settings screen. A change that ``config.py`` would reject, or a file that is not valid TOML, raises
:class:`~salon.errors.ConfigError` and writes nothing, so a user's file is never replaced by a guess.

``tomli-w`` writes no comments. When the file being replaced has comments, its previous text is kept beside it as
``config.toml.bak`` (also mode 0600) so nothing the user wrote is lost.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salon import locations
from salon.config.read import Config, flatten_keymap, load_config, parse_config
from salon.errors import ConfigError

FILE_MODE = 0o600
DIR_MODE = 0o700


@dataclass(frozen=True, slots=True)
class Setting:
    """One scalar setting of ``config.toml``, described once for the settings screen, ``salon config`` and docs."""

    key: str
    """Dotted TOML key: ``"theme"``, ``"ollama.host"``."""
    attribute: str
    """The :class:`~salon.config.read.Config` attribute that holds the effective value."""
    kind: str
    """``"text"``, ``"boolean"``, ``"seconds"``, ``"path"``, ``"url"``, ``"theme"`` or ``"agent"``."""
    default: Any
    """The value when the key is absent; ``None`` when the default is decided elsewhere (see ``help``)."""
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("theme", "theme", "theme", "salon-dark",
            "Colour theme: a bundled one, one of Textual's, or <config dir>/themes/NAME.toml."),
    Setting("default_agent", "default_agent", "agent", "assistant",
            "The agent a new conversation starts with (an agent id; `salon agents list`)."),
    Setting("follow", "follow", "boolean", True,
            "Keep the newest text in view while a reply streams, as long as you are at the bottom."),
    Setting("show_thinking", "show_thinking", "boolean", False,
            "Show a thinking model's reasoning above its reply."),
    Setting("data_dir", "data_dir", "path", None,
            "Where conversations are kept (default: the platform's data folder, or SALON_DATA_DIR)."),
    Setting("ollama.host", "ollama_host", "url", None,
            "The Ollama server (default: OLLAMA_HOST, else http://127.0.0.1:11434)."),
    Setting("ollama.connect_timeout", "connect_timeout", "seconds", 5.0,
            "Seconds to wait for a connection to Ollama."),
    Setting("ollama.read_timeout", "read_timeout", "seconds", 120.0,
            "Request timeout: seconds of silence from the server before a reply is stopped."),
)


def setting(key: str) -> Setting:
    """The :class:`Setting` named ``key``; raises ``KeyError`` for a key Salon does not have."""
    for candidate in SETTINGS:
        if candidate.key == key:
            return candidate
    raise KeyError(key)


@dataclass(frozen=True, slots=True)
class Saved:
    """What a save wrote: the settings as now read back, and where the replaced text went if it had comments."""

    config: Config
    path: Path
    backup: Path | None = None


def save_setting(key: str, value: Any, path: Path | None = None) -> Saved:
    """Set one dotted key (``"theme"``, ``"ollama.read_timeout"``); ``None`` removes it, restoring the default."""
    return update_config({key: value}, path)


def save_keymap(binding_id: str, keys: str | list[str] | None, path: Path | None = None) -> Saved:
    """Bind ``binding_id`` to ``keys`` in ``[keymap]`` (ids may contain dots); ``None`` restores the default."""
    return update_config({"keymap": {binding_id: keys}}, path)


def update_config(changes: Mapping[str, Any], path: Path | None = None) -> Saved:
    """Merge ``changes`` into ``config.toml`` and write it atomically with mode 0600.

    Top-level keys of ``changes`` may be dotted (``{"ollama.host": "…"}``) or nested (``{"ollama": {"host": …}}``);
    nested tables merge into the file's tables. ``None`` deletes a key. Raises
    :class:`~salon.errors.ConfigError` without writing when the file cannot be read as TOML, when a change has
    the wrong type, or when the file cannot be written.
    """
    path = path or locations.config_file()
    old_text = _read_text(path)
    document = _flat_keymap(_parse(old_text, path) if old_text is not None else {})
    updated = _flat_keymap(_merge(document, _flat_keymap(_nested(changes))))
    if old_text is not None and updated == document:
        # Nothing to change: leave the user's file, comments and all, as it is.
        return Saved(load_config(path), path)
    _check(document, updated, path)
    text = _dumps(updated)
    backup = None
    if old_text is not None and _has_comments(old_text) and old_text != text:
        backup = path.with_name(path.name + ".bak")
        write_private_file(backup, old_text)
    write_private_file(path, text)
    return Saved(load_config(path), path, backup)


def write_private_file(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically; the file is mode 0600 from the moment it exists.

    The temporary file is made by ``mkstemp`` (created 0600, never world-readable) in the target's own folder,
    so ``os.replace`` is a rename on one file system. A symlinked config (a dotfiles checkout) is written through:
    its target is replaced, the link kept.
    """
    target = Path(os.path.realpath(path))
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot save settings: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise ConfigError(f"{path}: cannot save settings: {exc.strerror or exc}") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(target.parent)


def read_document(path: Path | None = None) -> dict[str, Any]:
    """The file's TOML as a dict (empty when absent); raises :class:`ConfigError` when it is unreadable."""
    path = path or locations.config_file()
    text = _read_text(path)
    return _parse(text, path) if text is not None else {}


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read settings ({exc}); nothing was saved") from exc


def _parse(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}; nothing was saved. Fix the file (`salon config edit`) and try "
                          "again") from exc


def _nested(changes: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in changes.items():
        *tables, last = key.split(".")
        node = nested
        for table in tables:
            node = node.setdefault(table, {})
        if isinstance(value, Mapping) and isinstance(node.get(last), dict):
            node[last] = _merge(node[last], dict(value))
        else:
            node[last] = value
    return nested


def _merge(document: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(document)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
            if not merged[key]:
                del merged[key]
        elif isinstance(value, Mapping):
            if cleaned := _merge({}, value):
                merged[key] = cleaned
            else:
                merged.pop(key, None)
        else:
            merged[key] = _plain(value)
    return merged


def _flat_keymap(document: dict[str, Any]) -> dict[str, Any]:
    # Binding ids hold dots ("log.copy_message"): keep them as quoted keys of one [keymap] table, never as
    # nested tables, so one id is never written twice.
    keymap = document.get("keymap")
    if not isinstance(keymap, dict):
        return document
    return {**document, "keymap": flatten_keymap(keymap)}


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _check(before: dict[str, Any], after: dict[str, Any], path: Path) -> None:
    # config.py is the one judge of what a setting may hold; a change may not add a complaint it would make.
    known = set(parse_config(before, path).warnings)
    new = [w for w in parse_config(after, path).warnings if w not in known]
    if new:
        raise ConfigError("; ".join(new) + " (nothing was saved)")


def _dumps(document: dict[str, Any]) -> str:
    import tomli_w

    try:
        return tomli_w.dumps(document)
    except TypeError as exc:
        raise ConfigError(f"cannot save this value in config.toml: {exc}") from exc


def _has_comments(text: str) -> bool:
    """Whether ``text`` holds a TOML comment (a ``#`` outside any string)."""
    for line in text.splitlines():
        quote: str | None = None
        escaped = False
        for char in line:
            if quote:
                if escaped:
                    escaped = False
                elif char == "\\" and quote == '"':
                    escaped = True
                elif char == quote:
                    quote = None
            elif char in "\"'":
                quote = char
            elif char == "#":
                return True
    return False


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable on POSIX; Windows cannot open a directory, and NTFS journals the rename.
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commented_defaults() -> str:
    """A ``config.toml`` with every setting at its default, commented out, for ``salon config edit``."""
    import tomli_w

    lines = [
        "# Salon settings. Every setting is optional: remove the leading '# ' to change one.",
        "# `salon config show` prints what is in effect; docs/configuration.md describes each setting.",
        "# When Salon saves a choice (a theme, a default agent) it rewrites this file without comments;",
        "# the commented version is then kept beside it as config.toml.bak.",
        "",
    ]
    table = None
    for item in SETTINGS:
        *tables, name = item.key.split(".")
        if tables and tables[0] != table:
            table = tables[0]
            lines += ["", f"# [{table}]"]
        else:
            lines += [""]
        lines += [f"# {item.help}"]
        shown = item.default if item.default is not None else _example(item)
        lines += [f"# {tomli_w.dumps({name: shown}).strip()}"]
    lines += [
        "",
        "# A cloud provider: where it lives and the environment variable that holds its key.",
        "# Keys never go in this file.",
        "# [providers.openai]",
        '# api_key_env = "OPENAI_API_KEY"',
        '# api_base = "https://api.openai.com/v1"',
        "",
        "# Key bindings, by binding id (the help screen lists them): one key or a list.",
        "# [keymap]",
        '# new-conversation = "ctrl+n"',
        '# help = ["f1", "question_mark"]',
        "",
    ]
    return "\n".join(lines)


def _example(item: Setting) -> Any:
    if item.key == "data_dir":
        return str(locations.data_dir())
    if item.key == "ollama.host":
        return "http://127.0.0.1:11434"
    return ""

"""``salon config import-mcp FILE``: the ``mcpServers`` JSON other MCP clients use, added to config.toml.

Claude Desktop, Cursor and others keep ``{"mcpServers": {"NAME": {"command", "args", "env"} | {"url"}}}`` (VS Code:
``"servers"``). Each entry becomes ``[mcp_servers.NAME]``; what Salon cannot use is named and left out, a server
already in config.toml is left as it is, and the file is written privately (0600) by :mod:`salon.config.write`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salon.config.mcp_servers import SERVER_NAME
from salon.errors import ConfigError


@dataclass(slots=True)
class ImportReport:
    added: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_servers(path: Path) -> dict[str, Any]:
    """The ``mcpServers`` (or ``servers``) object of the file; raises :class:`ConfigError` saying what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read it: {error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}:{error.lineno}: not JSON: {error.msg} (column {error.colno})") from None
    servers = data.get("mcpServers", data.get("servers")) if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        raise ConfigError(f"{path}: no \"mcpServers\" object (the format Claude Desktop, Cursor and other MCP "
                          "clients use: {\"mcpServers\": {\"NAME\": {\"command\": …, \"args\": […]}}})")
    return servers


def convert(servers: dict[str, Any], existing: set[str], report: ImportReport) -> dict[str, dict[str, Any]]:
    """Each usable entry as a ``[mcp_servers.NAME]`` table; every entry left out or renamed gets a note."""
    tables: dict[str, dict[str, Any]] = {}
    for original, entry in servers.items():
        name = original if SERVER_NAME.match(original) else re.sub(r"[^A-Za-z0-9_-]+", "-", original).strip("-")
        if not name:
            report.notes.append(f"{original!r}: no usable name (letters, digits, '-' and '_'); left out")
            continue
        if name in existing or name in tables:
            report.notes.append(f"{name}: already in config.toml; left as it is")
            continue
        problem, table = _table(entry)
        if problem:
            report.notes.append(f"{original}: {problem}; left out")
            continue
        if name != original:
            report.notes.append(f"{original!r} is imported as {name!r} (tools are named SERVER.TOOL)")
        tables[name] = table
        report.added.append(name)
    return tables


def _table(entry: Any) -> tuple[str | None, dict[str, Any]]:
    if not isinstance(entry, dict):
        return "not an object", {}
    if entry.get("disabled") is True:
        return "disabled in that file", {}
    kind = entry.get("type") or entry.get("transport")
    if kind in ("sse",):
        return "Salon speaks streamable HTTP and stdio, not the older SSE transport", {}
    if "headers" in entry:
        return "a server that needs HTTP headers (a token) is not supported yet", {}
    command, url = entry.get("command"), entry.get("url") or entry.get("serverUrl")
    if isinstance(command, str) and command.strip():
        args = entry.get("args", [])
        env = entry.get("env", {})
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            return "'args' is not a list of strings", {}
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            return "'env' is not an object of strings", {}
        table: dict[str, Any] = {"command": command, "args": args}
        if env:
            table["env"] = env
        return None, table
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        return None, {"url": url}
    return "neither a 'command' nor an http(s) 'url'", {}


def import_file(path: Path, config_path: Path | None = None) -> ImportReport:
    """Add the file's servers to config.toml (kept private); raises :class:`ConfigError` writing nothing."""
    from salon.config.read import load_config
    from salon.config.write import update_config

    servers = read_servers(path)
    config = load_config(config_path) if config_path else load_config()
    report = ImportReport()
    tables = convert(servers, set(config.mcp_servers), report)
    if tables:
        update_config({"mcp_servers": tables}, config_path)
    return report

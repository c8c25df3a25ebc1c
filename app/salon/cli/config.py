"""``salon config path|show|edit``: where the settings live, what is in effect, and a checked way to change them.

``show`` never prints a secret: API keys are only ever named by their environment variable, and any value that
looks like a key or a credential (a header, a password in a URL) is printed as ``<redacted>``.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import stat
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from salon import locations, terminal
from salon.config.read import Config, HostError, load_config, parse_config
from salon.config.write import FILE_MODE, SETTINGS, commented_defaults, read_document, write_private_file
from salon.errors import ConfigError
from salon.store.redact import KEY_PREFIXES

REDACTED = "<redacted>"
_SECRET_NAME = re.compile(r"auth|key|token|secret|passw|cookie|session|signature|sig$|credential", re.I)
_SECRET_VALUE = KEY_PREFIXES
if TYPE_CHECKING:
    from salon.cli.common import Subcommands

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def add_parser(sub: Subcommands) -> None:
    config = sub.add_parser("config", help="where the settings file is, what is in effect, edit it",
                                 description="Salon's settings live in config.toml in the config folder "
                                             "(SALON_CONFIG_DIR overrides it).")
    actions = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    path = actions.add_parser("path", help="print the path of config.toml (or of the data or models folder)")
    path.add_argument("which", nargs="?", choices=("config", "data", "models"), default="config",
                      help="config: config.toml (the default); data: where conversations are kept; models: where "
                           "gguf/NAME looks for NAME.gguf first")
    actions.add_parser("show", help="print the settings in effect (secrets redacted) and any problems")
    actions.add_parser("edit", help="open config.toml in $VISUAL/$EDITOR (created with commented defaults), "
                                    "then check it")
    importing = actions.add_parser("import-mcp", help="add the MCP servers of an mcpServers JSON file (Claude "
                                                      "Desktop, Cursor...) to config.toml")
    importing.add_argument("file", type=Path, help="the JSON file holding \"mcpServers\"")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # Problems and notes quote what files hold (an imported file, a shared theme or agent): inert on a terminal.
    out, err = terminal.writer(out), terminal.writer(err)
    match args.config_command:
        case "path":
            print(_path(getattr(args, "which", "config")), file=out)
            return 0
        case "show":
            return show(out, err)
        case "edit":
            return edit(out, err)
        case "import-mcp":
            return import_mcp(args.file, out, err)
    return 2


def import_mcp(file: Path, out: TextIO, stderr: TextIO) -> int:
    from salon.config.mcp_import import import_file

    try:
        report = import_file(file)
    except ConfigError as error:
        print(f"salon: {error}", file=stderr)
        return 1
    for note in report.notes:
        print(f"salon: {note}", file=stderr)
    if report.added:
        print(f"added to {locations.config_file()}: {', '.join(report.added)}", file=out)
        print("agents use them with tools = [\"NAME.*\"]; each call asks first (approve = \"auto\" in a "
              "server's table skips the question)", file=out)
    else:
        print("nothing added", file=out)
    return 0 if report.added or not report.notes else 1


def _path(which: str) -> Path:
    if which == "config":
        return locations.config_file()
    config = load_config()
    return config.resolved_data_dir() / "models" if which == "models" else config.resolved_data_dir()


# --- show --------------------------------------------------------------------------------------------------


def show(out: TextIO, err: TextIO, path: Path | None = None) -> int:
    path = path or locations.config_file()
    config = load_config(path)
    try:
        document = read_document(path)
    except ConfigError:
        document = {}
    print(render(config, document, path), file=out)
    for problem in problems(config):
        print(f"warning: {problem}", file=err)
    return 0


def render(config: Config, document: dict[str, Any], path: Path) -> str:
    """The settings in effect as TOML, each value annotated with where it came from; secrets redacted."""
    import tomli_w

    from salon.config.keymap import check_keymap

    state = "" if path.exists() else " (not created yet: every value is a default)"
    lines = [f"# {path}{state}"]
    table = None
    for item in SETTINGS:
        *tables, name = item.key.split(".")
        if tables and tables[0] != table:
            table = tables[0]
            lines += ["", f"[{table}]"]
        value, origin = _effective(config, document, item.key, item.attribute)
        shown = tomli_w.dumps({name: _redact_value(name, _plain(value))}).strip() if value is not None else \
            f"# {name} is not set"
        lines.append(f"{shown:<48} # {origin}")
    for name, provider in sorted(config.providers.items()):
        lines += ["", f"[providers.{_key(name)}]"]
        if provider.api_key_env:
            if _ENV_NAME.match(provider.api_key_env) and not _looks_secret(provider.api_key_env):
                present = "set" if os.environ.get(provider.api_key_env) else "not set"
                lines.append(f'api_key_env = "{provider.api_key_env}"'.ljust(48) + f" # {present} in the environment")
            else:
                lines.append(f'api_key_env = "{REDACTED}"'.ljust(48) + " # should name a variable, not hold a key")
        if provider.api_base:
            lines.append(tomli_w.dumps({"api_base": redact_url(provider.api_base)}).strip())
        if provider.models:
            lines.append(f"models = {_toml_value(list(provider.models))}")
        if provider.read_timeout is not None:
            lines.append(f"read_timeout = {_toml_value(provider.read_timeout)}")
        if not provider.stream:
            lines.append("stream = false".ljust(48) + " # asked for whole replies: its server cannot stream")
        for header, value in sorted(provider.headers.items()):
            lines.append(f"headers.{_key(header)} = {_toml_value(_redact_value(header, value))}")
    for name, server in sorted(config.mcp_servers.items()):
        lines += ["", f"[mcp_servers.{_key(name)}]"]
        if server.url:
            lines.append(tomli_w.dumps({"url": redact_url(server.url)}).strip())
        else:
            lines.append(f"command = {_toml_value(server.command)}")
            lines.append(f"args = {_toml_value(list(server.args))}")
        # An MCP server's environment is where its tokens live: the names are shown, never the values.
        for variable in sorted(server.env):
            lines.append(f"env.{_key(variable)} = {_toml_value(REDACTED)}")
        lines += [f"timeout = {_toml_value(server.timeout)}", f"approve = {_toml_value(server.approve)}"]
        for tool, approve in sorted(server.tools.items()):
            lines.append(f"tools.{_key(tool)}.approve = {_toml_value(approve)}")
    keymap = check_keymap(config.keymap).keymap
    if keymap:
        lines += ["", "[keymap]"]
        lines += [tomli_w.dumps({binding_id: keys}).strip() for binding_id, keys in sorted(keymap.items())]
    lines += ["", f"# themes: {locations.bundled_themes_dir()} and {locations.user_themes_dir()}",
              f"# agents: {locations.bundled_agents_dir()} and {locations.user_agents_dir()}"]
    return "\n".join(lines)


def _effective(config: Config, document: dict[str, Any], key: str, attribute: str) -> tuple[Any, str]:
    value = getattr(config, attribute)
    node: Any = document
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is None:
        origin = "default"
    elif any(f"'{key}'" in warning for warning in config.warnings):
        origin = "default: the value in config.toml was ignored"
    else:
        origin = "config.toml"
    if key == "ollama.host":
        origin = "config.toml" if config.ollama_host else \
            "from OLLAMA_HOST" if os.environ.get("OLLAMA_HOST") else "default"
        try:
            return config.resolved_ollama_host(), origin
        except HostError:
            return redact_url(config.ollama_host or os.environ.get("OLLAMA_HOST", "")), f"{origin}: unusable"
    if key == "data_dir" and value is None:
        origin = "default (SALON_DATA_DIR)" if os.environ.get("SALON_DATA_DIR") else "default"
        return str(config.resolved_data_dir()), origin
    return value, origin


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


def _toml_value(value: Any) -> str:
    import tomli_w

    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else f'"{name}"'


def _looks_secret(value: str) -> bool:
    return bool(_SECRET_VALUE.search(value.strip()))


def _redact_value(name: str, value: Any) -> Any:
    """``value`` unless its name or its shape says it is a credential."""
    if not isinstance(value, str):
        return value
    if _SECRET_NAME.search(name) or _looks_secret(value):
        return REDACTED
    if "://" in value:
        return redact_url(value)
    return value


def redact_url(url: str) -> str:
    """A URL without its password or any query value whose name suggests a credential."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{host}" if ":" in userinfo else f"{REDACTED}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, REDACTED if _SECRET_NAME.search(k) or _looks_secret(v) else v) for k, v in pairs],
                          safe="<>")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


# --- checking ------------------------------------------------------------------------------------------------


def problems(config: Config) -> list[str]:
    """Everything wrong with the settings that a user can fix in config.toml, one line each."""
    from salon.config.keymap import check_keymap

    found = list(config.warnings)
    if any("api_key'" in w for w in found):
        found.append("API keys do not belong in config.toml: put the key in an environment variable and name "
                     "it with api_key_env")
    source = str(config.source or "config.toml")
    found.extend(check_keymap(config.keymap, _known_bindings(config), source=source).messages)
    found.extend(_theme_problem(config, source))
    try:
        config.resolved_ollama_host()
    except HostError as error:
        found.append(str(error))
    found.extend(_agent_problem(config, source))
    return found


def _known_bindings(config: Config) -> list[Any] | None:
    """The chat app's bindings, so unknown ``[keymap]`` ids are named here as the app names them (Textual is
    imported only when there is a keymap to check)."""
    if not config.keymap:
        return None
    from salon.config.keymap import collect_bindings
    from salon.tui.app import SalonApp
    from salon.tui.preferences import binding_classes

    return collect_bindings(*binding_classes(SalonApp))


def _theme_problem(config: Config, source: str) -> list[str]:
    from salon.tui.themes import load_themes

    catalog = load_themes()
    found = [str(error) for error in catalog.errors]
    broken = [error for error in catalog.errors if error.path.stem == config.theme]
    if config.theme not in catalog.names() and broken:
        # The file's own `path:line: reason` is above; "does not exist" would send the user looking for it.
        found.append(f"{source}: theme '{config.theme}' failed to load ({broken[0].path}); Salon will use "
                     "salon-dark until it is fixed")
    elif config.theme not in catalog.names():
        found.append(f"{source}: theme '{config.theme}' does not exist; Salon will use salon-dark. "
                     f"Themes: {', '.join(catalog.names())}")
    return found


def _agent_problem(config: Config, source: str) -> list[str]:
    from salon.agents.definition import default_directories, load_agents

    catalog = load_agents(default_directories())
    if config.default_agent in catalog.agents:
        return []
    return [f"{source}: default_agent '{config.default_agent}' does not exist. "
            f"Agents: {', '.join(sorted(catalog.agents)) or 'none'}"]


# --- edit ----------------------------------------------------------------------------------------------------


def edit(out: TextIO, err: TextIO, path: Path | None = None) -> int:
    path = path or locations.config_file()
    if not path.exists():
        write_private_file(path, commented_defaults())
        print(f"created {path} with every setting commented out", file=err)
    command = editor_command()
    if command is None:
        print("salon: no editor found: set $VISUAL or $EDITOR (for example EDITOR=nano)", file=err)
        return 1
    try:
        finished = subprocess.run([*command, str(path)], check=False)
    except OSError as exc:
        print(f"salon: cannot start the editor '{shlex.join(command)}': {exc.strerror or exc}", file=err)
        return 1
    if finished.returncode != 0:
        print(f"salon: the editor exited with status {finished.returncode}; checking the file anyway", file=err)
    _keep_private(path)
    return check_file(path, out)


def editor_command() -> list[str] | None:
    """``$VISUAL``, else ``$EDITOR`` (either may carry arguments, as in ``code --wait``), else nano or vi."""
    for variable in ("VISUAL", "EDITOR"):
        if value := os.environ.get(variable, "").strip():
            return shlex.split(value, posix=os.name != "nt")
    for fallback in ("nano", "vi"):
        if found := shutil.which(fallback):
            return [found]
    return None


def check_file(path: Path, out: TextIO) -> int:
    """Report every problem of config.toml as ``path[:line]: reason``; 0 when there is none."""
    import tomllib

    from salon.config.tomlfile import error_position

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        print(f"{path}: not found; Salon will use its defaults", file=out)
        return 0
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{path}: cannot read: {exc}", file=out)
        return 1
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, reason = error_position(exc, text)
        print(f"{path}:{line}: invalid TOML: {reason}. Salon will start with default settings until it is fixed",
              file=out)
        return 1
    found = problems(parse_config(document, path, text))
    for problem in found:
        print(problem, file=out)
    if not found:
        print(f"ok   {path}", file=out)
    return 1 if found else 0


def _keep_private(path: Path) -> None:
    # An editor that writes a new file (save-by-rename) may leave it readable by others; settings can name
    # hosts and headers, so put it back to 0600.
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, FILE_MODE)
    except OSError:
        pass

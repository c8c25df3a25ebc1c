"""Settings from ``config.toml``: read with tomllib, every key optional, unknown or ill-typed keys reported."""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from salon import locations
from salon.config.schema import Finding, Key, Table
from salon.errors import ConfigError

if TYPE_CHECKING:
    from salon.config.mcp_servers import McpServerSettings

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """One ``[providers.NAME]`` table: where a cloud provider lives and which variable holds its key."""

    api_base: str | None = None
    api_key_env: str | None = None
    headers: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # The provider's models offered in the model picker, as the provider names them ("gpt-4o-mini").
    models: tuple[str, ...] = ()
    # None: [ollama] read_timeout, the one setting for every provider unless a section sets its own.
    read_timeout: float | None = None
    # False: a server that cannot stream; Salon asks it for whole replies (salon.providers.capabilities).
    stream: bool = True


@dataclass(frozen=True, slots=True)
class Config:
    default_agent: str = "assistant"
    theme: str = "salon-dark"
    ollama_host: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 120.0
    data_dir: Path | None = None
    follow: bool = True
    show_thinking: bool = False
    providers: MappingProxyType[str, ProviderSettings] = field(default_factory=lambda: MappingProxyType({}))
    # binding id -> comma-separated keys, as Textual's App.set_keymap takes it; ids are checked by salon.config.keymap
    keymap: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # [mcp_servers.NAME] and [approvals.AGENT]: only ever from the user's own config (salon.config.mcp_servers)
    mcp_servers: MappingProxyType[str, McpServerSettings] = field(default_factory=lambda: MappingProxyType({}))
    approvals: MappingProxyType[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    # [gguf] folders: where gguf/NAME is looked for after <data dir>/models.
    gguf_folders: tuple[Path, ...] = ()
    source: Path | None = None
    warnings: tuple[str, ...] = ()

    def resolved_ollama_host(self) -> str:
        """Config beats ``OLLAMA_HOST``, which beats Ollama's own default; as shown to a user (password hidden).

        Raises :class:`HostError` for a value that is not an address.
        """
        return ollama_endpoint(self).shown

    def resolved_data_dir(self) -> Path:
        return self.data_dir or locations.data_dir()


class HostError(ConfigError):
    """``OLLAMA_HOST`` or ``[ollama] host`` is not an address Salon can dial."""


@dataclass(frozen=True, slots=True)
class OllamaEndpoint:
    """Where Ollama is: ``url`` without user info (what is dialled), and the credentials it carried, if any."""

    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def shown(self) -> str:
        """The address as messages, the status line and the database show it: a password never appears."""
        if self.username is None and self.password is None:
            return self.url
        scheme, rest = self.url.split("://", 1)
        return f"{scheme}://{self.username or ''}:***@{rest}"


def ollama_endpoint(config: Config) -> OllamaEndpoint:
    """The Ollama address in effect: ``[ollama] host``, else ``OLLAMA_HOST``, else the default."""
    if config.ollama_host and config.ollama_host.strip():
        return parse_host(config.ollama_host, f"[ollama] host in {config.source or 'config.toml'}")
    env = os.environ.get("OLLAMA_HOST", "")
    if _trimmed(env):
        return parse_host(env, "OLLAMA_HOST")
    return parse_host(DEFAULT_OLLAMA_HOST, "the default host")


_USERINFO_PASSWORD = re.compile(r"^(\s*(?:[A-Za-z][\w+.-]*://)?[^:/@\s]*:)[^@/]*@")


def _trimmed(value: str) -> str:
    # Ollama's own CLI trims spaces and quotes around OLLAMA_HOST; so does Salon.
    return value.strip().strip("\"'").strip()


def parse_host(value: str, origin: str) -> OllamaEndpoint:
    """Check and normalise an Ollama address; a ``user:password@`` part becomes credentials for Basic auth."""
    def bad(reason: str) -> HostError:
        shown = _USERINFO_PASSWORD.sub(r"\1***@", value)
        return HostError(f"{origin} = {shown!r} is not an Ollama address: {reason} (for example "
                         "127.0.0.1:11434 or http://gpu-box:11434)")

    host = _trimmed(value)
    if any(c.isspace() or ord(c) < 32 for c in host):
        raise bad("it contains spaces or control characters")
    if "://" not in host:
        host = f"http://{host}"
    scheme, rest = host.split("://", 1)
    if scheme.lower() not in ("http", "https"):
        raise bad(f"the scheme must be http or https, not '{scheme}'")
    netloc, _, path = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    username = password = None
    if at:
        name, colon, secret = userinfo.partition(":")
        username, password = unquote(name), unquote(secret) if colon else None
    if hostport.count(":") > 1 and not hostport.startswith("["):
        # A bare IPv6 address (::1), as Ollama's CLI accepts it.
        try:
            hostport = f"[{ipaddress.IPv6Address(hostport)}]"
        except ValueError:
            raise bad("an IPv6 address goes in brackets, as in [::1]:11434") from None
    try:
        parts = urlsplit(f"http://{hostport}")
        port = parts.port
    except ValueError:
        raise bad(f"'{hostport.rpartition(':')[2]}' is not a port number (1-65535)") from None
    if not parts.hostname:
        raise bad("there is no host name")
    if port == 0:
        raise bad("port 0 is not a port number (1-65535)")
    if hostport.startswith("0.0.0.0"):
        hostport = "127.0.0.1" + hostport[len("0.0.0.0"):]
    if port is None:
        hostport = f"{hostport.rstrip(':')}:11434"
    path = path.rstrip("/")
    url = f"{scheme.lower()}://{hostport}" + (f"/{path}" if path else "")
    return OllamaEndpoint(url, username, password)


# config.toml is the user's own: a key it does not know, or of the wrong type, is ignored with a warning and
# Salon starts anyway (see salon.config.schema). Its messages name a type as Python does ("should be bool").
_STR, _BOOL, _NUMBER = Key((str,), "str"), Key((bool,), "bool"), Key((int, float), "int")
_SETTINGS = Table({"default_agent": _STR, "theme": _STR, "data_dir": _STR, "follow": _BOOL, "show_thinking": _BOOL})
_OLLAMA = Table({"host": _STR, "connect_timeout": _NUMBER, "read_timeout": _NUMBER})
_PROVIDER = Table({"api_base": _STR, "api_key_env": _STR, "headers": Key((dict,), "dict"),
                   "models": Key((list,), "list"), "read_timeout": _NUMBER, "stream": _BOOL})
_GGUF = Table({"folders": Key((list,), "a list of folder paths")})


def load_config(path: Path | None = None) -> Config:
    """Read the settings; a broken file yields defaults plus a warning, never a crash."""
    path = path or locations.config_file()
    try:
        source = path.read_text(encoding="utf-8")
        raw = tomllib.loads(source)
    except FileNotFoundError:
        return Config(source=path)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return Config(source=path, warnings=(f"{path}: {exc}; using default settings",))
    return parse_config(raw, path, source)


def parse_config(raw: dict[str, Any], path: Path, source: str = "") -> Config:
    warnings: list[str] = []
    values: dict[str, Any] = {}

    def take(table: dict[str, Any], keys: Table, prefix: str) -> dict[str, Any]:
        ignored = set()
        for finding in keys.check(table):
            warnings.append(_ignored(path, finding, prefix))
            ignored.add(finding.name)
        taken = {}
        for key, value in table.items():
            if key in ignored:
                continue
            if key.endswith("_timeout") and value <= 0:
                warnings.append(f"{path}: '{prefix}{key}' should be a number of seconds above 0; ignored")
            else:
                taken[key] = value
        return taken

    top = {k: v for k, v in raw.items() if k not in ("ollama", "providers", "keymap", "mcp_servers", "approvals",
                                                    "gguf")}
    values.update(take(top, _SETTINGS, ""))
    if "data_dir" in values and not values["data_dir"].strip():
        warnings.append(f"{path}: 'data_dir' is empty; using the default data folder")
        del values["data_dir"]
    if "data_dir" in values:
        values["data_dir"] = Path(values["data_dir"]).expanduser()
    ollama = raw.get("ollama", {})
    if isinstance(ollama, dict):
        for key, value in take(ollama, _OLLAMA, "ollama.").items():
            values["ollama_host" if key == "host" else key] = value
    else:
        warnings.append(f"{path}: [ollama] should be a table; ignored")
    providers: dict[str, ProviderSettings] = {}
    provider_tables = raw.get("providers", {})
    if not isinstance(provider_tables, dict):
        warnings.append(f"{path}: [providers] should be a table of [providers.NAME] tables; ignored")
        provider_tables = {}
    for name, table in provider_tables.items():
        if not isinstance(table, dict):
            warnings.append(f"{path}: [providers.{name}] should be a table; ignored")
            continue
        checked = take(table, _PROVIDER, f"providers.{name}.")
        models = checked.get("models", [])
        if not all(isinstance(m, str) and m.strip() for m in models):
            warnings.append(f"{path}: 'providers.{name}.models' should be a list of model names; ignored")
            models = []
        providers[name] = ProviderSettings(
            api_base=checked.get("api_base"),
            api_key_env=checked.get("api_key_env"),
            headers=MappingProxyType({str(k): str(v) for k, v in checked.get("headers", {}).items()}),
            models=tuple(m.strip() for m in models),
            read_timeout=checked.get("read_timeout"),
            stream=checked.get("stream", True),
        )
    values["providers"] = MappingProxyType(providers)
    values["keymap"] = MappingProxyType(_parse_keymap(raw.get("keymap", {}), path, warnings))
    if "mcp_servers" in raw or "approvals" in raw:
        from salon.config.mcp_servers import parse_approvals, parse_mcp_servers
        from salon.config.tomlfile import KeyLines

        lines = KeyLines(source)
        values["mcp_servers"] = MappingProxyType(parse_mcp_servers(raw.get("mcp_servers", {}), path, lines,
                                                                   warnings))
        values["approvals"] = MappingProxyType(parse_approvals(raw.get("approvals", {}), path, lines, warnings))
    values["gguf_folders"] = _parse_gguf(raw.get("gguf", {}), path, warnings)
    return Config(source=path, warnings=tuple(warnings), **values)


def _parse_gguf(table: Any, path: Path, warnings: list[str]) -> tuple[Path, ...]:
    if not isinstance(table, dict):
        warnings.append(f"{path}: [gguf] should be a table; ignored")
        return ()
    findings = list(_GGUF.check(table))
    warnings.extend(_ignored(path, finding, "gguf.") for finding in findings)
    folders = table.get("folders", [])
    if any(finding.name == "folders" for finding in findings):
        return ()
    if not all(isinstance(f, str) and f.strip() for f in folders):
        warnings.append(f"{path}: 'gguf.folders' should be {_GGUF.keys['folders'].described}; ignored")
        return ()
    return tuple(Path(f.strip()).expanduser() for f in folders)


def _ignored(path: Path, finding: Finding, prefix: str) -> str:
    if finding.kind == "unknown":
        return f"{path}: unknown setting '{prefix}{finding.name}' ignored"
    assert finding.key is not None
    return f"{path}: '{prefix}{finding.name}' should be {finding.key.described}; ignored"


def gguf_folders(config: Config) -> tuple[Path, ...]:
    """Where ``gguf/NAME`` is looked for, in order: ``<data dir>/models``, then ``[gguf] folders``."""
    return (config.resolved_data_dir() / "models", *config.gguf_folders)


def _parse_keymap(table: Any, path: Path, warnings: list[str]) -> dict[str, str]:
    if not isinstance(table, dict):
        warnings.append(f"{path}: [keymap] should be a table of binding id = \"keys\"; ignored")
        return {}
    keymap = {}
    for binding_id, keys in flatten_keymap(table).items():
        if isinstance(keys, list) and keys and all(isinstance(k, str) and k.strip() for k in keys):
            keys = ",".join(k.strip() for k in keys)
        if not isinstance(keys, str) or not keys.strip():
            warnings.append(f"{path}: 'keymap.{binding_id}' should be keys like \"ctrl+n\" or a list of them; "
                            "ignored")
            continue
        keymap[binding_id] = keys.strip()
    return keymap


def flatten_keymap(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``[keymap]`` as binding id → keys. Binding ids contain dots (``log.copy_message``); unquoted in TOML they
    read as nested tables, which this undoes."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            flat.update(flatten_keymap(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat

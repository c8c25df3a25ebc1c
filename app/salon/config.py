"""Settings from ``config.toml``: read with tomllib, every key optional, unknown or ill-typed keys reported."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from salon import locations
from salon.errors import ConfigError

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """One ``[providers.NAME]`` table: where a cloud provider lives and which variable holds its key."""

    api_base: str | None = None
    api_key_env: str | None = None
    headers: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))


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
    source: Path | None = None
    warnings: tuple[str, ...] = ()

    def resolved_ollama_host(self) -> str:
        """Config beats ``OLLAMA_HOST``, which beats Ollama's own default."""
        return normalise_host(self.ollama_host or os.environ.get("OLLAMA_HOST") or DEFAULT_OLLAMA_HOST)

    def resolved_data_dir(self) -> Path:
        return self.data_dir or locations.data_dir()


def normalise_host(host: str) -> str:
    """``127.0.0.1:11434`` or ``0.0.0.0`` as Ollama accepts them, turned into a URL a client can dial."""
    host = host.strip().rstrip("/")
    if "://" not in host:
        host = f"http://{host}"
    scheme, rest = host.split("://", 1)
    hostpart = rest.split("/", 1)[0]
    if hostpart.startswith("0.0.0.0"):
        rest = "127.0.0.1" + rest[len("0.0.0.0"):]
        hostpart = rest.split("/", 1)[0]
    if ":" not in hostpart.rsplit("]", 1)[-1]:
        rest = hostpart + ":11434" + rest[len(hostpart):]
    return f"{scheme}://{rest}"


_TYPES: dict[str, tuple[type, ...]] = {
    "default_agent": (str,),
    "theme": (str,),
    "data_dir": (str,),
    "follow": (bool,),
    "show_thinking": (bool,),
}
_OLLAMA_TYPES: dict[str, tuple[type, ...]] = {
    "host": (str,),
    "connect_timeout": (int, float),
    "read_timeout": (int, float),
}


def load_config(path: Path | None = None) -> Config:
    """Read the settings; a broken file yields defaults plus a warning, never a crash."""
    path = path or locations.config_file()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Config(source=path)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return Config(source=path, warnings=(f"{path}: {exc}; using default settings",))
    return parse_config(raw, path)


def parse_config(raw: dict[str, Any], path: Path) -> Config:
    warnings: list[str] = []
    values: dict[str, Any] = {}

    def take(table: dict[str, Any], types: dict[str, tuple[type, ...]], prefix: str) -> dict[str, Any]:
        taken = {}
        for key, value in table.items():
            if key not in types:
                warnings.append(f"{path}: unknown setting '{prefix}{key}' ignored")
            elif not isinstance(value, types[key]) or (isinstance(value, bool) and bool not in types[key]):
                warnings.append(f"{path}: '{prefix}{key}' should be {types[key][0].__name__}; ignored")
            else:
                taken[key] = value
        return taken

    top = {k: v for k, v in raw.items() if k not in ("ollama", "providers", "keymap")}
    values.update(take(top, _TYPES, ""))
    if "data_dir" in values:
        values["data_dir"] = Path(values["data_dir"]).expanduser()
    ollama = raw.get("ollama", {})
    if isinstance(ollama, dict):
        for key, value in take(ollama, _OLLAMA_TYPES, "ollama.").items():
            values["ollama_host" if key == "host" else key] = value
    else:
        warnings.append(f"{path}: [ollama] should be a table; ignored")
    providers: dict[str, ProviderSettings] = {}
    for name, table in (raw.get("providers") or {}).items():
        if not isinstance(table, dict):
            warnings.append(f"{path}: [providers.{name}] should be a table; ignored")
            continue
        checked = take(table, {"api_base": (str,), "api_key_env": (str,), "headers": (dict,)},
                       f"providers.{name}.")
        providers[name] = ProviderSettings(
            api_base=checked.get("api_base"),
            api_key_env=checked.get("api_key_env"),
            headers=MappingProxyType({str(k): str(v) for k, v in checked.get("headers", {}).items()}),
        )
    values["providers"] = MappingProxyType(providers)
    return Config(source=path, warnings=tuple(warnings), **values)


def require_config(path: Path) -> Config:
    """Like :func:`load_config` but raising, for ``salon config`` commands that must not guess."""
    try:
        return parse_config(tomllib.loads(path.read_text(encoding="utf-8")), path)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc

"""Settings from ``config.toml``: read with tomllib, every key optional, unknown or ill-typed keys reported."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from salon import locations
from salon.tomlfile import is_of

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
    # binding id -> comma-separated keys, as Textual's App.set_keymap takes it; ids are checked by salon.keymap
    keymap: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
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
            elif not is_of(value, types[key]):
                warnings.append(f"{path}: '{prefix}{key}' should be {types[key][0].__name__}; ignored")
            elif key.endswith("_timeout") and isinstance(value, int | float) and value <= 0:
                warnings.append(f"{path}: '{prefix}{key}' should be a number of seconds above 0; ignored")
            else:
                taken[key] = value
        return taken

    top = {k: v for k, v in raw.items() if k not in ("ollama", "providers", "keymap")}
    values.update(take(top, _TYPES, ""))
    if "data_dir" in values and not values["data_dir"].strip():
        warnings.append(f"{path}: 'data_dir' is empty; using the default data folder")
        del values["data_dir"]
    if "data_dir" in values:
        values["data_dir"] = Path(values["data_dir"]).expanduser()
    ollama = raw.get("ollama", {})
    if isinstance(ollama, dict):
        for key, value in take(ollama, _OLLAMA_TYPES, "ollama.").items():
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
        checked = take(table, {"api_base": (str,), "api_key_env": (str,), "headers": (dict,), "models": (list,),
                               "read_timeout": (int, float)}, f"providers.{name}.")
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
        )
    values["providers"] = MappingProxyType(providers)
    values["keymap"] = MappingProxyType(_parse_keymap(raw.get("keymap", {}), path, warnings))
    return Config(source=path, warnings=tuple(warnings), **values)


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

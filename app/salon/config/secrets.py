"""The secrets a configuration knows of, handed to the store so that none of them is ever written down.

The store redacts what it is told (:func:`salon.store.redact.secret_values`); it does not read ``config.toml``.
"""

from __future__ import annotations

from collections.abc import Mapping

from salon.config.read import Config, HostError, ollama_endpoint
from salon.store.redact import secret_values as _secret_values


def secret_values(config: Config | None = None, environ: Mapping[str, str] | None = None) -> set[str]:
    """The environment's key-shaped values, the variables ``config.toml`` names in ``api_key_env``, provider
    header values (``Authorization = "Bearer …"``) and a password in the Ollama host's URL."""
    variables: list[str] = []
    values: list[str] = []
    if config is not None:
        for settings in config.providers.values():
            if settings.api_key_env:
                variables.append(settings.api_key_env)
            values.extend(settings.headers.values())
            if key := getattr(settings, "api_key", None):  # should config ever hold keys itself
                values.append(str(key))
        try:
            password = ollama_endpoint(config).password
        except HostError:
            password = None
        if password:
            values.append(password)
    return _secret_values(environ, variables=variables, values=values)

"""The generation parameters an agent file may set in ``[params]``: an allowlist, not a pass-through.

Anything else in ``[params]`` is refused, because some keyword arguments decide where a request goes and which
credentials it carries (litellm gives ``api_base``, ``base_url``, ``api_key``, ``extra_headers`` … passed per call
precedence over everything): an agent file shared by someone else could otherwise send the user's key, prompt and
conversation to a host of their choosing. Those come only from the user's own ``config.toml`` and environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_NUMBER = ((int, float), "a number")
_INTEGER = ((int,), "an integer")
_BOOL = ((bool,), "true or false")

# name -> (accepted types, how the type is named in an error)
GENERATION_PARAMS: Mapping[str, tuple[tuple[type, ...], str]] = {
    "temperature": _NUMBER,
    "top_p": _NUMBER,
    "top_k": _INTEGER,
    "min_p": _NUMBER,
    "typical_p": _NUMBER,
    "tfs_z": _NUMBER,
    "seed": _INTEGER,
    "max_tokens": _INTEGER,
    "num_predict": _INTEGER,
    "num_ctx": _INTEGER,
    "num_keep": _INTEGER,
    "num_gpu": _INTEGER,
    "num_thread": _INTEGER,
    "repeat_penalty": _NUMBER,
    "repeat_last_n": _INTEGER,
    "presence_penalty": _NUMBER,
    "frequency_penalty": _NUMBER,
    "penalize_newline": _BOOL,
    "mirostat": _INTEGER,
    "mirostat_tau": _NUMBER,
    "mirostat_eta": _NUMBER,
    "stop": ((list, str), "a string or a list of strings"),
    "keep_alive": ((str, int), "a duration like \"5m\" or seconds"),
    "think": ((bool, str), "true, false or \"low\"/\"medium\"/\"high\""),
    "reasoning_effort": ((str,), "\"low\", \"medium\" or \"high\""),
}

# Keys that route a request or carry credentials: named in the error, so the user knows where they belong.
_ROUTING_WORDS = ("base", "url", "host", "key", "header", "auth", "token", "secret", "provider", "proxy",
                  "endpoint", "organization", "project", "deployment", "region", "credential", "client")


def refusal(key: str) -> str:
    """Why ``key`` may not appear in ``[params]`` (it is not a generation parameter)."""
    lowered = key.lower()
    if any(word in lowered for word in _ROUTING_WORDS):
        return (f"'{key}' decides where requests go or which credentials they carry, so an agent file may not "
                "set it; set it in your own config.toml ([providers.NAME] or [ollama])")
    return f"'{key}' is not a generation parameter (allowed: {', '.join(GENERATION_PARAMS)})"


def generation_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Only the allowlisted parameters of ``params`` (defence in depth for callers that built their own)."""
    return {key: value for key, value in params.items() if key in GENERATION_PARAMS}

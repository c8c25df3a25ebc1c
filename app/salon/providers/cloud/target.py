"""Where a cloud model reference is sent, with which key and which parameters: resolved before any request.

A model reference picks its ``[providers.NAME]`` section of ``config.toml`` by its first segment:
``openai/gpt-4o-mini`` reads ``[providers.openai]``, ``openrouter/anthropic/claude-3.5-sonnet`` reads
``[providers.openrouter]``. A first segment that is not one of litellm's providers (``local/qwen2.5-7b-instruct``)
names an OpenAI-compatible server of the user's own (LM Studio, vLLM, llama.cpp's server): its section must set
``api_base``, and it is sent no key unless the section names one with ``api_key_env``.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, ModuleType
from typing import Any

from salon.agents.params import generation_params
from salon.config.read import Config, ProviderSettings
from salon.errors import MissingKey, UnknownProvider

# What Salon sends as the key to a server of the user's own that needs none: OpenAI's client refuses to send
# nothing, and sending the user's real OPENAI_API_KEY to a server they did not say should have it would leak it.
NO_KEY = "salon-no-key"

# Ollama's runtime settings, meaningless to any other server; everything else in [params] passes through.
_OLLAMA_ONLY_PARAMS = frozenset({"num_ctx", "num_predict", "keep_alive", "num_gpu", "num_thread", "think"})
# Samplers of local engines (Ollama, llama.cpp, vLLM): a server of the user's own may take them, a cloud API
# answers 400 "Unrecognized request argument", so they go to a known provider only where litellm says it takes them.
_LOCAL_SAMPLERS = frozenset({"top_k", "min_p", "repeat_penalty", "repeat_last_n", "typical_p", "tfs_z", "mirostat",
                             "mirostat_tau", "mirostat_eta", "num_keep", "penalize_newline"})
_REASONING_EFFORTS = frozenset({"low", "medium", "high"})


@dataclass(frozen=True, slots=True)
class Target:
    """Where one model reference is sent, and with what; the key never appears in its repr."""

    ref: str  # as the agent names it: "openai/gpt-4o-mini"
    provider: str  # its [providers.NAME] section: "openai"
    model: str  # litellm's name for it: the ref, or "openai/…" for an OpenAI-compatible server of the user's own
    api_base: str | None
    read_timeout: float
    key_names: tuple[str, ...]  # the variables a user sets for the key, for error messages
    supported_params: frozenset[str] | None  # what litellm says the provider takes; None for a server of one's own
    api_key: str | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a message: the key (litellm may read it from the environment itself),
        and headers that carry credentials."""
        values = [self.api_key or "", *(os.environ.get(name, "") for name in self.key_names)]
        values += [v for k, v in self.headers.items() if _is_credential_header(k)]
        return tuple(v for v in values if len(v) >= 4 and v != NO_KEY)


def _is_credential_header(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in ("auth", "key", "token", "secret", "cookie"))


def resolve_target(config: Config, litellm: ModuleType, ref: str) -> Target:
    """Resolve ``ref`` to a provider, base URL and key; raises before any request if it cannot be sent."""
    prefix, slash, rest = ref.partition("/")
    if not slash:
        # A bare name ("gpt-4o-mini"): litellm knows which provider serves it, or nobody does.
        try:
            prefix = str(litellm.get_llm_provider(ref)[1])
        except Exception:
            raise UnknownProvider(ref, ref) from None
    settings = config.providers.get(prefix, ProviderSettings())
    known = prefix in litellm.provider_list
    if not known and not settings.api_base:
        raise UnknownProvider(ref, prefix)
    model = ref if known else f"openai/{rest}"
    read_timeout = settings.read_timeout or config.read_timeout
    api_key: str | None = None
    if settings.api_key_env:
        api_key = os.environ.get(settings.api_key_env) or None
        if api_key is None:
            raise MissingKey([settings.api_key_env], ref)
        key_names: tuple[str, ...] = (settings.api_key_env,)
    elif not known:
        api_key, key_names = NO_KEY, ()
    else:
        missing = _missing_keys(litellm, model, settings.api_base)
        key_names = tuple(missing) or (f"{prefix.upper()}_API_KEY",)
        if missing:
            if not settings.api_base:
                raise MissingKey(missing, ref)
            # A server at the user's own api_base may need no key; if it does, its 401 names the variable.
            api_key = NO_KEY
    return Target(ref=ref, provider=prefix, model=model, api_base=settings.api_base, read_timeout=read_timeout,
                  key_names=key_names, supported_params=_supported_params(litellm, model) if known else None,
                  api_key=api_key, headers=settings.headers)


def cloud_params(params: Mapping[str, Any], supported: Collection[str] | None = None) -> dict[str, Any]:
    """An agent's ``[params]`` as OpenAI-style arguments: Ollama's runtime settings dropped, the rest kept.

    ``supported`` (litellm's list for a provider it knows; None for a server of the user's own) limits the samplers
    of local engines to providers that take them.
    """
    # Only generation parameters, whoever built ``params``: litellm lets a per-call api_base, api_key or
    # extra_headers override everything, which would send the user's key wherever they point.
    params = generation_params(params)
    out = {k: v for k, v in params.items() if k not in _OLLAMA_ONLY_PARAMS
           and (supported is None or k not in _LOCAL_SAMPLERS or k in supported)}
    if "num_predict" in params and "max_tokens" not in params:
        out["max_tokens"] = params["num_predict"]
    think = params.get("think")
    if isinstance(think, str) and think.lower() in _REASONING_EFFORTS:
        out["reasoning_effort"] = think.lower()
    return out


def _supported_params(litellm: ModuleType, model: str) -> frozenset[str]:
    try:
        return frozenset(litellm.get_supported_openai_params(model=model) or ())
    except Exception:
        return frozenset()  # unknown to litellm: no local-engine samplers, everything else as written


def _missing_keys(litellm: ModuleType, model: str, api_base: str | None) -> list[str]:
    try:
        checked = litellm.validate_environment(model, api_base=api_base)
    except Exception:
        return []  # litellm cannot tell: let the provider answer
    return [str(name) for name in checked.get("missing_keys") or ()]

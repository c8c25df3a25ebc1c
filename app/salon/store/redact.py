"""Keeping secrets out of the database: every text the store writes passes through a :class:`Redactor` first.

The secrets are credentials, not every value whose variable has a suspicious name: the variables that
``config.toml`` names in ``api_key_env``, provider header values (``Authorization = "Bearer …"``), a password in
the Ollama host's URL, and environment values shaped like keys (a known key prefix such as ``sk-`` or ``ghp_``, or
a token-like value in a variable named like a key). ``PASSWORD_STORE_DIR=/home/alice/.password-store`` is a path,
so a prompt that mentions it is kept as typed. A key can reach a conversation through a provider's error message,
an echoed prompt or a pasted command; none of those ends up on disk.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 8  # shorter values are too likely to be ordinary words
_SECRET_NAME = re.compile(r"api_?key|_key$|^key$|token|secret|passw|credential|private|auth_?header",
                          re.IGNORECASE)
_SCHEMES = re.compile(r"^(?:bearer|basic|token)\s+", re.IGNORECASE)
# Prefixes real providers give their keys and tokens; a value starting so is a credential whatever its name.
KEY_PREFIXES = re.compile(
    r"^(?:sk|pk|rk)[-_]|^sk-ant-|^gsk_|^gh[pousr]_|^github_pat_|^xox[abprs]-|^AIza|^hf_|^AKIA|^ASIA|^ya29\."
    r"|^(?:bearer|basic|token)\s+\S"
    r"|^eyJ[\w-]+\.[\w-]+",  # a JWT
    re.IGNORECASE)
_TOKEN_LIKE = re.compile(r"\S+")


def looks_like_key(value: str) -> bool:
    """A value with a provider's key prefix."""
    return bool(KEY_PREFIXES.search(value.strip()))


def _token_like(value: str) -> bool:
    """One opaque word: no spaces, not a path (``/…``, ``~/…``, ``./…``), not a URL, not a list of paths."""
    value = value.strip()
    if not _TOKEN_LIKE.fullmatch(value) or "://" in value:
        return False
    return not value.startswith(("/", "~", "./", "../")) and ":/" not in value


def secret_values(environ: Mapping[str, str] | None = None, *, variables: Iterable[str] = (),
                  values: Iterable[str] = ()) -> set[str]:
    """The secrets to keep out of what is written: environment values shaped like keys, the values of the
    ``variables`` named (a provider's ``api_key_env``), and ``values`` known to be secret (header values, a
    password). The caller knows its configuration; the store is only told (see :mod:`salon.config.secrets`)."""
    environ = os.environ if environ is None else environ
    named: set[str] = {name for name, value in environ.items()
                       if looks_like_key(value) or (_SECRET_NAME.search(name) and _token_like(value))}
    named.update(variables)
    found: set[str] = set()
    for value in values:
        found.add(value)
        found.add(_SCHEMES.sub("", value))
    found.update(environ[name] for name in named if name in environ)
    return {value.strip() for value in found if len(value.strip()) >= MIN_SECRET_LENGTH}


class Redactor:
    """Replaces every known secret in a text with :data:`REDACTED`."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is removed whole.
        self._secrets = tuple(sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True))

    def __call__(self, text: str, *, partial: bool = False) -> str:
        """``text`` without secrets. With ``partial`` (text still streaming), a tail that could be the start of
        a secret is held back too: the next checkpoint, or the final text, writes it once it is known to be safe.
        """
        if not self._secrets or not text:
            return text
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        if partial:
            text = text[: len(text) - self._unsafe_tail(text)]
        return text

    def _unsafe_tail(self, text: str) -> int:
        longest = 0
        for secret in self._secrets:
            for size in range(min(len(secret) - 1, len(text)), longest, -1):
                if text.endswith(secret[:size]):
                    longest = size
                    break
        return longest

"""Why a connection failed, in the words a user acts on, whichever client library raised it."""

from __future__ import annotations

from collections.abc import Sequence

_UNRESOLVED = ("Name or service not known", "nodename nor servname", "getaddrinfo",
               "Temporary failure in name resolution")
_REFUSED = ("Connection refused", "Connect call failed", "All connection attempts failed")


def network_reason(chain: Sequence[BaseException]) -> str:
    """``connection refused``, ``the host name does not resolve``, or the innermost error's own text.

    ``chain`` is the error and what caused it, outermost first: the signs may sit at any level.
    """
    text = " ".join(str(error) for error in chain)
    if any(sign in text for sign in _UNRESOLVED):
        return "the host name does not resolve"
    if any(sign in text for sign in _REFUSED):
        return "connection refused"
    innermost = str(chain[-1]).strip()
    return innermost or type(chain[-1]).__name__

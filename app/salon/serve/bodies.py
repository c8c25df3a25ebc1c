"""A request body as the API reads it: JSON, one object, no deeper than :data:`MAX_DEPTH`, its text mended.

JSON lets a client send what Python cannot store or send back: ``"\\udfff"`` decodes to a lone UTF-16 surrogate,
which SQLite and every UTF-8 writer refuse. Every string of a body (keys too) is mended by the rule replies
follow (:func:`salon.surrogates.mend`: a pair joined, a lone half U+FFFD) before any handler sees it, so nothing
after the parse can fail half-way on it. A body nested thousands of levels deep would exhaust Python's stack while
it is parsed; it is refused with the limit instead.
"""

from __future__ import annotations

import json
from typing import Any

from salon.surrogates import mend

MAX_DEPTH = 32
"""Levels of nesting a body may have; the deepest the API reads is five (a thread's messages' content parts)."""


class BodyError(ValueError):
    """A body the API cannot read; the message says why and what would do."""


def parse(raw: bytes) -> dict[str, Any]:
    """``raw`` as a JSON object with its strings mended; raises :class:`BodyError`."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError("the body is not UTF-8") from None
    too_deep = f"the body is nested more than {MAX_DEPTH} levels deep; the limit is {MAX_DEPTH}"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise BodyError(f"the body is not JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    except RecursionError:  # the parser's own stack ran out, long before any sane body gets near it
        raise BodyError(too_deep) from None
    except ValueError as error:  # valid JSON Python will not hold: an integer of over 4,300 digits
        raise BodyError(f"the body is JSON that cannot be read: {error}") from None
    if not isinstance(data, dict):
        raise BodyError("the body should be a JSON object")
    if not _mend_within(data, MAX_DEPTH):
        raise BodyError(too_deep)
    return data


def _mend_within(root: dict[str, Any] | list[Any], limit: int) -> bool:
    """Mend every string under ``root`` in place; ``False`` (partly mended) if it nests deeper than ``limit``.

    A loop with its own stack, not recursion: the walk itself must not be what a deep body breaks.
    """
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(root, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(value, dict):
            items = [(mend(key), item) for key, item in value.items()]
            value.clear()
            for key, item in items:
                value[key] = mend(item) if isinstance(item, str) else item
                if isinstance(item, dict | list):
                    stack.append((item, depth + 1))
        else:
            for index, item in enumerate(value):
                if isinstance(item, str):
                    value[index] = mend(item)
                elif isinstance(item, dict | list):
                    stack.append((item, depth + 1))
    return True

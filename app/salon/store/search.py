"""Turning what a user types into an FTS5 query that can never be a syntax error."""

from __future__ import annotations

import re

_PART = re.compile(r'"([^"]*)"|(\S+)')
_WORD = re.compile(r"\w")


def fts_query(text: str) -> str | None:
    """``"exact phrase"`` stays a phrase; every other word matches as a prefix; all of them must match.

    FTS5 operators (AND, OR, NOT, NEAR, ``*``, ``^``, ``col:``, parentheses) are taken as plain words, since a user
    searching their history means the words. Returns None when nothing searchable is left.
    """
    parts = []
    for phrase, word in _PART.findall(text):
        if phrase and _WORD.search(phrase):
            parts.append(_quote(phrase))
        elif word and _WORD.search(word):
            parts.append(_quote(word) + "*")
    return " ".join(parts) or None


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'

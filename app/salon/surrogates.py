"""Text that JSON allows but UTF-8 cannot hold: UTF-16 surrogates, mended before anything stores or prints them.

A JSON string may carry ``"\\ud83d\\ude00"`` (a pair: one emoji) or a lone ``"\\ud800"``; servers written in
JavaScript even cut a pair between two streamed chunks. Python decodes each escape to a surrogate code point, which
SQLite and a UTF-8 stream refuse with ``UnicodeEncodeError``. Here a pair becomes its character, wherever it was
cut, and a lone half becomes U+FFFD; nothing else of the text changes.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def _is_high(char: str) -> bool:
    return "\ud800" <= char <= "\udbff"


def mend(text: str) -> str:
    """``text`` with surrogate pairs joined and lone surrogates replaced by U+FFFD."""
    if not _SURROGATE.search(text):
        return text
    # UTF-16 is where surrogates belong: encoded there, a pair decodes as its character and a half as U+FFFD.
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


class SurrogateJoiner:
    """Mends a stream of text pieces, joining a pair cut between two pieces.

    A high surrogate at the end of a piece is held back until the next piece shows whether its partner follows;
    :meth:`end` gives what is still held (as U+FFFD) when the stream stops.
    """

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        if self._held:
            piece, self._held = self._held + piece, ""
        elif not piece or not _SURROGATE.search(piece):
            return piece
        if piece and _is_high(piece[-1]):
            piece, self._held = piece[:-1], piece[-1]
        return mend(piece)

    @property
    def holding(self) -> bool:
        return bool(self._held)

    def end(self) -> str:
        held, self._held = self._held, ""
        return REPLACEMENT if held else ""

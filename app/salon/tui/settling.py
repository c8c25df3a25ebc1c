"""When a streaming reply's finished blocks leave the live tail: Textual-free, so it is tested on its own.

The live reply re-renders only its tail at each frame. :class:`LiveTail` collects what arrives and says when a
part of it is finished — whole top-level Markdown blocks, or the lines so far of one paragraph that keeps growing —
so the widget can move that part into the settled render (rendered once, kept) and go on with the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from salon.tui.rendering import CHUNK_SIZE, LONG_BLOCK, markdown_parser

SETTLE_AT = 500
"""Characters in the live tail after which its finished blocks are settled into the cached render."""


@dataclass(frozen=True, slots=True)
class Settle:
    """``done`` leaves the tail for the settled render; the tail goes on with ``rest``."""

    done: str
    rest: str
    open_paragraph: bool
    """``done`` ends inside a paragraph that ``rest`` continues (no blank line between them when drawn)."""


class LiveTail:
    """The text after the settled blocks, as it grows fragment by fragment."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._size = 0
        self._checked_at = 0

    @property
    def text(self) -> str:
        joined = "".join(self._parts)
        self._parts = [joined]
        return joined

    def add(self, fragment: str) -> Settle | None:
        """Append ``fragment``; a :class:`Settle` when part of the tail is now finished, else None."""
        self._parts.append(fragment)
        self._size += len(fragment)
        # Checked again only once the tail has grown by a share of its size: a block that cannot be settled (a
        # long code fence) is then parsed a bounded number of times, not once per frame.
        if self._size < SETTLE_AT or self._size - self._checked_at < max(SETTLE_AT // 2, self._checked_at // 4):
            return None
        tail = self.text
        self._checked_at = self._size
        if cut := settle_point(tail):
            return Settle(tail[:cut], tail[cut:], open_paragraph=False)
        if self._size > LONG_BLOCK and (cut := _growing_paragraph_cut(tail)):
            # One paragraph that keeps growing: its lines so far are settled, so the tail (and the render at every
            # frame) stays small however long the paragraph gets.
            return Settle(tail[:cut], tail[cut:], open_paragraph=True)
        return None

    def restart(self, rest: str) -> None:
        """The settled part has left: the tail is ``rest`` from now on."""
        self._parts, self._size, self._checked_at = [rest], len(rest), 0


def _growing_paragraph_cut(tail: str) -> int:
    blocks = [t for t in markdown_parser().parse(tail) if t.level == 0 and t.nesting == 1]
    if len(blocks) != 1 or blocks[0].type != "paragraph_open":
        return 0
    # Cut late, so what stays live is a small piece of the paragraph.
    return paragraph_cut(tail, max(0, len(tail) - SETTLE_AT))


_UNSAFE_LINE_START = re.compile(r"\s|\d{1,9}[.)]|[-+*>#=`~|<\[!_]")
"""What a line of a paragraph must not begin with to start a piece of its own: at the start of a text it could
open a list, a quote, a heading, a code block or a table, or close a setext heading, instead of going on as prose."""


def paragraph_cut(block: str, at_least: int = CHUNK_SIZE) -> int:
    """Where a long paragraph may be cut (just after a newline, at least ``at_least`` in); 0 when nowhere safe.

    The next piece must read as prose when parsed alone (see ``_UNSAFE_LINE_START``). The cut changes the drawing
    only in that the wrapped line ends at the cut; an emphasis or link spanning the cut loses its styling.
    """
    offset = at_least
    while True:
        newline = block.find("\n", offset)
        if newline < 0 or newline + 1 >= len(block):
            return 0
        start = newline + 1
        if not _UNSAFE_LINE_START.match(block, start) and block[start] != "\n":
            return start
        offset = start


def settle_point(source: str) -> int:
    """Where the last top-level Markdown block of ``source`` begins (0 when there is only one).

    Everything before it is finished: text still to come can only extend or change that last block. A fenced
    code block or a list is one block, however long, so a reply inside one is never cut in the middle.
    """
    tokens = markdown_parser().parse(source)
    last = max((t.map[0] for t in tokens if t.level == 0 and t.map is not None and t.nesting >= 0), default=0)
    if last == 0:
        return 0
    offset = 0
    for _ in range(last):
        newline = source.find("\n", offset)
        if newline < 0:
            return 0
        offset = newline + 1
    return offset

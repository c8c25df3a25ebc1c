"""Where a Markdown reply may be cut into pieces drawn on their own: the one parser and the block boundaries.

Both a reply drawn whole (:func:`split_parts`) and a reply settling as it streams (:mod:`salon.tui.settling`) cut at
the same places — between top-level blocks, and inside a very long paragraph between its lines — so both ask here.
Free of Textual and Rich, so it is tested on its own.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

CHUNK_SIZE = 2000
"""Characters of Markdown rendered in one piece when a long reply is drawn whole."""

LONG_BLOCK = 4 * CHUNK_SIZE
"""A paragraph longer than this is cut between its lines into pieces rendered on their own (see :func:`split_parts`).

Without the cut, one huge paragraph (a model that never writes a blank line) is one Rich render of all of it, and
a live reply re-parses all of it at every frame: a 1 MB reply froze the screen for seconds."""


@cache
def markdown_parser() -> MarkdownIt:
    """The one Markdown parser for replies: Rich's (CommonMark, tables, strikethrough) with raw HTML turned off.

    Rich drops HTML tokens, so with HTML on, ``Vec<String>`` showed as ``Vec`` and a ``<details>`` block vanished.
    Off, a tag is text like any other. Splitting a reply into blocks uses the same parser, or a block boundary of
    one parse (an HTML block ends at a blank line) could fall inside a block of the other (a code fence).
    """
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable(["strikethrough", "table"])


def block_starts(text: str) -> dict[int, str]:
    """The line (0-based) where each top-level block of ``text`` begins, with the kind of block (its first token,
    ``"paragraph_open"``, ``"fence"`` …), in order. A fenced code block or a list is one block, however long."""
    kinds: dict[int, str] = {}
    for token in markdown_parser().parse(text):
        if token.level == 0 and token.map is not None and token.nesting >= 0:
            kinds.setdefault(token.map[0], token.type)
    return dict(sorted(kinds.items()))


def settle_point(source: str) -> int:
    """Where the last top-level Markdown block of ``source`` begins (0 when there is only one).

    Everything before it is finished: text still to come can only extend or change that last block, so a reply
    inside a code fence or a list is never cut in the middle.
    """
    last = max(block_starts(source), default=0)
    if last == 0:
        return 0
    offset = 0
    for _ in range(last):
        newline = source.find("\n", offset)
        if newline < 0:
            return 0
        offset = newline + 1
    return offset


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


def split_parts(text: str, size: int = CHUNK_SIZE) -> list[tuple[str, bool]]:
    """``text`` in pieces of at least ``size`` characters, each with whether it continues the previous one's paragraph.

    Pieces end at top-level block boundaries, except inside a paragraph longer than :data:`LONG_BLOCK`, which is cut
    between its lines (see :func:`paragraph_cut`) so that no single render holds all of it.
    """
    if len(text) <= size:
        return [(text, False)] if text else []
    kinds = block_starts(text)
    starts = list(kinds)
    lines = text.splitlines(keepends=True)
    parts: list[tuple[str, bool]] = []
    current: list[str] = []
    size_so_far = 0
    for start, end in zip([0, *starts[1:]], [*starts[1:], len(lines)], strict=True):
        block = "".join(lines[start:end])
        if len(block) > LONG_BLOCK and kinds.get(start) == "paragraph_open":
            if current:
                parts.append(("".join(current), False))
                current, size_so_far = [], 0
            joined = False
            while len(block) > LONG_BLOCK:
                cut = paragraph_cut(block, size)
                if not cut:
                    break
                parts.append((block[:cut], joined))
                block, joined = block[cut:], True
            parts.append((block, joined))
            continue
        current.append(block)
        size_so_far += len(block)
        if size_so_far >= size:
            parts.append(("".join(current), False))
            current, size_so_far = [], 0
    if current:
        parts.append(("".join(current), False))
    return parts

"""When a streaming reply's finished blocks leave the live tail: Textual-free, so it is tested on its own.

The live reply re-renders only its tail at each frame. :class:`LiveTail` collects what arrives and says when a
part of it is finished — whole top-level Markdown blocks, or the lines so far of one paragraph that keeps growing —
so the widget can move that part into the settled render (rendered once, kept) and go on with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from salon.tui.blocks import LONG_BLOCK, block_starts, paragraph_cut, settle_point

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
    if list(block_starts(tail).values()) != ["paragraph_open"]:
        return 0
    # Cut late, so what stays live is a small piece of the paragraph.
    return paragraph_cut(tail, max(0, len(tail) - SETTLE_AT))


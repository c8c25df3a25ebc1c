"""The live tail's settling rule, on its own: no widget, no app, only text in and the cut out."""

from __future__ import annotations

from salon.tui.rendering import LONG_BLOCK
from salon.tui.settling import SETTLE_AT, LiveTail


def feed(tail: LiveTail, text: str, size: int = 7):
    """Add ``text`` in fragments of ``size``, as deltas arrive; every settle that happened, in order."""
    settles = []
    for start in range(0, len(text), size):
        if (settle := tail.add(text[start:start + size])) is not None:
            settles.append(settle)
            tail.restart(settle.rest)
    return settles


def test_a_short_reply_stays_live():
    tail = LiveTail()
    assert feed(tail, "One paragraph.\n\nAnother, still short.") == []
    assert tail.text == "One paragraph.\n\nAnother, still short."


def test_finished_blocks_settle_and_the_last_block_stays_live():
    tail = LiveTail()
    paragraphs = [f"Paragraph {n} " + "word " * 30 for n in range(6)]
    text = "\n\n".join(paragraphs)
    settles = feed(tail, text)
    assert settles, "nothing settled in a reply far longer than SETTLE_AT"
    assert "".join(s.done for s in settles) + tail.text == text  # nothing lost, nothing doubled
    assert all(not s.open_paragraph for s in settles)
    # What stays live begins at a block boundary and holds the last block.
    assert tail.text.startswith("Paragraph ") and tail.text.endswith(paragraphs[-1])
    assert len(tail.text) < len(text)


def test_an_open_code_fence_is_never_cut():
    tail = LiveTail()
    code = "```python\n" + "".join(f"x{n} = {n}\n\n" for n in range(200))
    assert feed(tail, code) == []
    assert tail.text == code and len(code) > SETTLE_AT


def test_one_growing_paragraph_settles_its_lines_so_far():
    tail = LiveTail()
    paragraph = "".join(f"line {n} of one long paragraph that keeps on going\n" for n in range(400))
    settles = feed(tail, paragraph, size=50)
    assert len(paragraph) > LONG_BLOCK and settles
    assert all(s.open_paragraph for s in settles)
    assert "".join(s.done for s in settles) + tail.text == paragraph
    assert len(tail.text) < LONG_BLOCK

"""The two rules for untrusted text, on their own: inert on a terminal (``salon.terminal``), surrogates mended
(``salon.surrogates``), and the reply accumulation that applies the second for every provider."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from salon.reply import Chunk, ReplyBuilder
from salon.surrogates import SurrogateJoiner, mend
from salon.terminal import TerminalWriter, inert
from tests.hostile import CORPUS, ESCAPES, LONE_SURROGATE, SPLIT_PAIR, forbidden, hostile_text, printable


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Gone(io.StringIO):
    """A pipe whose reader has exited."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_every_escape_of_the_corpus_is_written_visibly_and_inertly():
    for name, text in ESCAPES.items():
        shown = inert(text)
        assert forbidden(shown) == [], name
    assert inert(ESCAPES["osc52"]) == "␛]52;c;aGFja2Vk␇"
    assert inert("\x9b2J") == "\\u{009b}2J"
    assert inert("\u202eevil\u202c") == "\\u{202e}evil\\u{202c}"
    assert inert("tab\there\nnext") == "tab\there\nnext"


def test_markup_and_html_are_not_touched_by_the_terminal_rule():
    for name in ("action", "inst", "html-generic", "html-block"):
        assert inert(CORPUS[name]) == CORPUS[name]


def test_surrogates_are_mended_a_pair_joined_a_half_replaced():
    assert mend("a" + "".join(SPLIT_PAIR) + "b") == "a😀b"
    assert mend("a" + LONE_SURROGATE + "b") == "a\ufffdb"
    assert mend("\ude00\ud83d") == "\ufffd\ufffd"  # the wrong order is two halves
    joiner = SurrogateJoiner()
    assert [joiner.feed("x" + SPLIT_PAIR[0]), joiner.feed(SPLIT_PAIR[1] + "y"), joiner.feed(SPLIT_PAIR[0])] == [
        "x", "😀y", ""]
    assert joiner.end() == "\ufffd"


def test_a_pair_split_between_chunks_is_joined_where_replies_accumulate():
    builder = ReplyBuilder("ollama/m")
    kept = [builder.add(Chunk(text=t)) for t in ("Smile ", SPLIT_PAIR[0], SPLIT_PAIR[1] + " and", LONE_SURROGATE)]
    kept.append(builder.add(Chunk(text=" end.", model="ollama/m" + LONE_SURROGATE)))
    assert "".join(c.text for c in kept) == "Smile 😀 and\ufffd end."
    reply = builder.freeze()
    assert reply.text == "Smile 😀 and\ufffd end."
    assert reply.model == "ollama/m\ufffd"
    reply.text.encode("utf-8")  # storable and printable


def test_a_reply_ending_in_half_a_pair_keeps_it_as_a_replacement_character():
    builder = ReplyBuilder()
    builder.add(Chunk(text="cut" + SPLIT_PAIR[0]))
    assert builder.freeze().text == "cut\ufffd"


def test_a_writer_is_inert_on_a_terminal_and_exact_elsewhere():
    text = "".join(CORPUS.values())
    terminal, pipe, raw = _Terminal(), io.StringIO(), _Terminal()
    for stream, options in ((terminal, {}), (pipe, {}), (raw, {"raw": True})):
        out = TerminalWriter(stream, **options)
        for i in range(0, len(text), 7):  # as a stream arrives: escapes cut anywhere
            out.write(text[i:i + 7])
        out.flush()
    assert forbidden(terminal.getvalue()) == []
    assert pipe.getvalue() == text
    assert raw.getvalue() == text


def test_a_windows_line_end_cut_between_writes_is_still_a_line_end_on_a_terminal():
    terminal = _Terminal()
    out = TerminalWriter(terminal)
    for piece in ("one\r", "\ntwo\r", "three\r"):
        out.write(piece)
    out.flush()
    assert terminal.getvalue() == "one\ntwo␍three␍"


def test_a_reader_that_went_away_is_noted_not_raised():
    out = TerminalWriter(_Gone())
    out.write("first")
    out.write("second")
    out.flush()
    assert out.broken


@settings(max_examples=300, deadline=None)
@given(hostile_text(200))
def test_no_control_reaches_a_terminal_and_every_printable_character_stays_visible(text: str):
    shown = inert(text)
    assert forbidden(shown) == []
    shown.encode("utf-8")
    # Every printable character of the input is still there, in order.
    rest = iter(shown)
    assert all(any(c == s for s in rest) for c in printable(mend(text)))


@settings(max_examples=200, deadline=None)
@given(st.lists(hostile_text(30), min_size=1, max_size=8))
def test_through_a_pipe_streamed_text_is_exact(pieces: list[str]):
    pipe = io.StringIO()
    out = TerminalWriter(pipe)
    for piece in pieces:
        out.write(piece)
    out.flush()
    assert pipe.getvalue() == "".join(mend(p) for p in pieces)

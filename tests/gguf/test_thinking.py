"""A local model's <think> block is kept apart from its answer, however the stream cuts the tags."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salon.providers.gguf.thinking import ThinkingSplitter


def split(pieces: list[str]) -> tuple[str, str]:
    splitter = ThinkingSplitter()
    text, thinking = [], []
    for piece in [*pieces, None]:
        said, thought = splitter.flush() if piece is None else splitter.feed(piece)
        text.append(said)
        thinking.append(thought)
    return "".join(text), "".join(thinking)


def test_thinking_at_the_start_is_kept_apart_from_the_answer() -> None:
    assert split(["<think>", "Hmm, virtue", "…", "</think>", "\n\n", "Virtue is ", "knowledge."]) == \
        ("Virtue is knowledge.", "Hmm, virtue…")


def test_a_reply_without_thinking_is_all_answer_even_one_that_mentions_the_tag() -> None:
    assert split(["Use ", "<think>", " tags."]) == ("Use <think> tags.", "")
    assert split(["  Plain."]) == ("  Plain.", "")


def test_a_reply_that_stops_mid_thought_keeps_the_thought() -> None:
    assert split(["<think>", "still going </thi"]) == ("", "still going </thi")


@pytest.mark.parametrize("reply", ["<think>a b</think>Answer.", "Answer <th", "<thi", "\n<think>x</think>\n\ny"])
def test_where_the_stream_cuts_does_not_change_the_result(reply: str) -> None:
    whole = split([reply])
    for cut in range(1, len(reply)):
        assert split([reply[:cut], reply[cut:]]) == whole
    assert split(list(reply)) == whole


@given(st.lists(st.text(alphabet="<>/thinkabc \n", max_size=6), max_size=12))
def test_no_character_is_lost_or_doubled(pieces: list[str]) -> None:
    text, thinking = split(pieces)
    joined = "".join(pieces)
    # What was shown is the reply minus the tags and the layout around them, in order.
    assert len(text) + len(thinking) <= len(joined)
    assert split(["".join(pieces)]) == (text, thinking)

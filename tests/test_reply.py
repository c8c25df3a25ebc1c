"""The reply accumulator: text and thinking kept apart, honest timing and rates."""

from __future__ import annotations

from salon.reply import Chunk, ReplyBuilder, Usage


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_accumulates_text_thinking_chunks_and_first_token_time():
    clock = Clock()
    builder = ReplyBuilder("ollama/qwen3", clock)
    clock.now += 0.5
    builder.add(Chunk(thinking="Let me think. "))
    clock.now += 0.5
    builder.add(Chunk(text="Virtue "))
    builder.add(Chunk(text="is knowledge."))
    clock.now += 1.0
    builder.add(Chunk(finish_reason="stop", usage=Usage(12, 3)))
    reply = builder.freeze()
    assert reply.text == "Virtue is knowledge."
    assert reply.thinking == "Let me think. "
    assert reply.chunks == 3
    assert reply.time_to_first_token == 0.5
    assert reply.duration == 2.0
    assert reply.finish_reason == "stop"
    assert reply.usage == Usage(12, 3)
    assert reply.tokens_per_second == 3 / 1.5


def test_server_generation_time_gives_the_rate_when_reported():
    builder = ReplyBuilder("m", Clock())
    builder.add(Chunk(text="a"))
    builder.add(Chunk(text="", finish_reason="stop", usage=Usage(5, 40), eval_seconds=2.0))
    assert builder.freeze().tokens_per_second == 20.0


def test_no_tokens_means_no_rate_and_no_first_token_time():
    reply = ReplyBuilder("m", Clock()).freeze()
    assert reply.tokens_per_second is None
    assert reply.time_to_first_token is None
    assert reply.text == ""


def test_partial_reply_can_be_frozen_mid_stream():
    builder = ReplyBuilder("m", Clock())
    builder.add(Chunk(text="Half a "))
    assert builder.freeze().text == "Half a "
    builder.add(Chunk(text="thought."))
    assert builder.freeze().text == "Half a thought."

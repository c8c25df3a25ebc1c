"""The gguf provider on a real model (Gemma 3 270M): streaming, usage, parameters, reuse, release, cancel, faults.

Every assertion holds whatever the model says: it streams, it ends, the counts add up, parameters have their
effect (the same seed gives the same text, a stop string ends it, max_tokens caps it).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from salon.agents.definition import Agent, Step
from salon.errors import (
    ContextTooLong,
    ModelFileError,
    ModelNotFound,
    NotEnoughMemory,
    ProviderError,
    ToolsUnsupported,
)
from salon.events import MessageCompleted, MessageDelta, RunCancelled
from salon.providers import ChatMessage, CompletionRequest
from salon.providers.base import ToolSpec
from salon.providers.gguf.provider import GgufProvider
from salon.reply import Chunk, ReplyBuilder
from salon.runner.run import Run

PROMPT = (ChatMessage("system", "Be brief."), ChatMessage("user", "Say hello"))


def ask(model: str = "gemma3", *, stream: bool = True, prompt: tuple[ChatMessage, ...] = PROMPT,
        **params: Any) -> CompletionRequest:
    return CompletionRequest(model, prompt, params=MappingProxyType({"max_tokens": 12, **params}), stream=stream)


async def collect(provider: GgufProvider, request: CompletionRequest) -> list[Chunk]:
    return [chunk async for chunk in provider.stream(request)]


def workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "salon-gguf"]


async def test_a_reply_streams_token_by_token_and_ends_with_llama_cpps_counts(gguf: GgufProvider) -> None:
    chunks = await collect(gguf, ask(max_tokens=16, seed=7))

    *pieces, last = chunks
    builder = ReplyBuilder("gguf/gemma3")
    for chunk in chunks:
        builder.add(chunk)
    reply = builder.freeze()
    assert len(pieces) >= 4 and all(c.text and c.finish_reason is None for c in pieces)
    assert last.finish_reason in ("stop", "length") and last.model == "gguf/gemma3"
    assert reply.text == "".join(c.text for c in chunks) and reply.thinking == ""
    # Every token generated is counted, once: at most one piece per token, the length cap reached or not.
    assert 0 < reply.usage.output_tokens <= 16 and len(pieces) <= reply.usage.output_tokens
    assert (last.finish_reason == "length") == (reply.usage.output_tokens == 16)
    assert reply.usage.input_tokens > 5 and reply.usage.estimated is False
    assert last.eval_seconds and reply.tokens_per_second and reply.time_to_first_token is not None


async def test_without_streaming_the_whole_reply_is_one_chunk_with_the_same_text(gguf: GgufProvider) -> None:
    streamed = await collect(gguf, ask(seed=3))
    whole = await collect(gguf, ask(seed=3, stream=False))

    assert len(whole) == 1
    assert whole[0].text == "".join(c.text for c in streamed)
    assert whole[0].usage == streamed[-1].usage


async def test_the_model_is_loaded_once_and_reused_across_replies(gguf: GgufProvider, models_dir: Path) -> None:
    await collect(gguf, ask())
    await collect(gguf, ask(prompt=(ChatMessage("user", "And again?"),)))

    assert gguf.loads == 1 and gguf.loaded == models_dir / "gemma3.gguf"
    # Another context size is another load; the first model is released, not kept beside it.
    await collect(gguf, ask(num_ctx=1024))
    assert gguf.loads == 2


async def test_the_model_is_released_keep_alive_after_the_last_reply(gguf: GgufProvider) -> None:
    await collect(gguf, ask(keep_alive=0))
    await wait_for(lambda: gguf.loaded is None)

    await collect(gguf, ask(keep_alive="1s"))
    assert gguf.loaded is not None
    await wait_for(lambda: gguf.loaded is None)

    await collect(gguf, ask(keep_alive=-1))
    await asyncio.sleep(0.2)
    assert gguf.loaded is not None


async def test_seed_temperature_top_k_and_top_p_reach_the_sampler(gguf: GgufProvider) -> None:
    async def text(**params: Any) -> str:
        return "".join(c.text for c in await collect(gguf, ask(max_tokens=10, **params)))

    assert await text(seed=11, temperature=1.5) == await text(seed=11, temperature=1.5)
    # top_k 1 (and top_p near 0) leave one candidate: the seed no longer matters.
    assert await text(seed=1, temperature=1.5, top_k=1) == await text(seed=2, temperature=1.5, top_k=1)
    assert await text(seed=1, temperature=1.5, top_p=0.0001) == await text(seed=2, temperature=1.5,
                                                                            top_p=0.0001)
    hot = {await text(seed=s, temperature=2.0, top_k=0, top_p=1.0, min_p=0.0) for s in range(4)}
    assert len(hot) > 1


async def test_a_stop_string_ends_the_reply_before_it_and_max_tokens_caps_it(gguf: GgufProvider) -> None:
    free = await collect(gguf, ask(max_tokens=20, seed=5, temperature=0))
    text = "".join(c.text for c in free)
    stop = text[len(text) // 2:][:3]
    assert stop.strip(), text

    stopped = await collect(gguf, ask(max_tokens=20, seed=5, temperature=0, stop=[stop]))
    capped = await collect(gguf, ask(max_tokens=3, seed=5, temperature=0))

    assert "".join(c.text for c in stopped) == text[:text.index(stop)]
    assert stopped[-1].finish_reason == "stop"
    assert (capped[-1].finish_reason, capped[-1].usage.output_tokens) == ("length", 3)


async def test_a_conversation_longer_than_num_ctx_is_refused_not_truncated(gguf: GgufProvider) -> None:
    long = (ChatMessage("user", "virtue " * 300),)

    with pytest.raises(ContextTooLong) as caught:
        await collect(gguf, ask(prompt=long, num_ctx=128))

    message = str(caught.value)
    assert "does not fit in this model's context of 128 (num_ctx)" in message
    assert "Raise num_ctx" in message and "does not cut it short silently" in message


async def test_not_enough_memory_is_refused_before_loading_with_the_figures(gguf: GgufProvider) -> None:
    with pytest.raises(NotEnoughMemory) as caught:
        await collect(gguf, ask(num_ctx=50_000_000))

    message = str(caught.value)
    assert message.startswith("not enough memory for gguf/gemma3: it needs about ")
    assert "the 241 MiB file" in message and "MiB of context for num_ctx 50,000,000" in message
    assert "GiB is available" in message and "lower num_ctx" in message
    assert gguf.loads == 0 and gguf.loaded is None


async def test_a_machine_short_of_memory_is_told_so_for_an_ordinary_context(models_dir: Path,
                                                                            engine_ready: None) -> None:
    # The machine's real MemAvailable is what the check reads; here it is said to be 100 MiB.
    provider = GgufProvider([models_dir], memory=lambda: 100 * 2**20)
    try:
        with pytest.raises(NotEnoughMemory, match=r"but 0\.1 GiB is available"):
            await collect(provider, ask())
    finally:
        await provider.aclose()


@pytest.mark.parametrize(("make", "says"), [
    (lambda d: d / "absent.gguf", "absent.gguf: no such file"),
    (lambda d: _write(d / "page.gguf", b"<html>Not Found</html>" * 4), "is not a GGUF model file"),
    (lambda d: _truncate(d), "is cut off: 10,000,000 bytes, but its tensors need 253,113,024"),
], ids=["missing", "not-gguf", "truncated"])
async def test_a_bad_file_fails_clearly_before_anything_loads(gguf: GgufProvider, tmp_path: Path, make: Any,
                                                              says: str) -> None:
    path = make(tmp_path)

    with pytest.raises(ModelFileError) as caught:
        await collect(gguf, ask(str(path)))

    assert says in str(caught.value) and str(path) in str(caught.value)
    assert gguf.loads == 0


async def test_an_unknown_model_name_is_model_not_found(gguf: GgufProvider) -> None:
    with pytest.raises(ModelNotFound, match="gguf/nothing-here"):
        await collect(gguf, ask("nothing-here"))


async def test_cancel_stops_generation_within_a_token_or_two(gguf: GgufProvider) -> None:
    request = ask(max_tokens=400, seed=1, temperature=1.0)
    stream = gguf.stream(request)
    received = [await anext(stream) for _ in range(3)]
    await stream.aclose()

    assert workers() == []  # closing the stream waited for the worker: nothing runs on
    assert gguf.last is not None and gguf.last.reason == "cancelled"
    assert gguf.last.output_tokens <= len(received) + 2
    # The model is free again at once.
    assert (await collect(gguf, ask(max_tokens=2)))[-1].usage.output_tokens == 2


async def test_a_cancelled_run_keeps_its_partial_text_marked_interrupted(gguf: GgufProvider) -> None:
    step = Step("local", "Local", "gguf/gemma3", params=MappingProxyType({"max_tokens": 400, "seed": 1}))
    agent = Agent(id="local", name="Local", model="gguf/gemma3", steps=(step,))
    run = Run(agent, [ChatMessage("user", "Tell me a long story.")], _Only(gguf))  # type: ignore[arg-type]
    events = []
    async for event in run:
        events.append(event)
        if isinstance(event, MessageDelta) and sum(isinstance(e, MessageDelta) for e in events) == 3:
            run.cancel()

    done = next(e for e in events if isinstance(e, MessageCompleted))
    shown = "".join(e.text for e in events if isinstance(e, MessageDelta))
    assert done.status == "interrupted" and done.reply.text == shown and shown
    assert isinstance(events[-1], RunCancelled)
    assert workers() == []


async def test_only_salons_errors_escape(gguf: GgufProvider) -> None:
    for request in (ask("nothing-here"), ask(num_ctx=50_000_000), ask(prompt=(ChatMessage("user", "x " * 400),),
                                                                        num_ctx=64)):
        with pytest.raises(ProviderError):
            await collect(gguf, request)


class _Only:
    def __init__(self, provider: GgufProvider) -> None:
        self.provider = provider

    def for_model(self, ref: str) -> GgufProvider:
        return self.provider


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _truncate(folder: Path) -> Path:
    source = next((folder / "data" / "models").iterdir()).resolve()
    with source.open("rb") as whole:
        return _write(folder / "cut.gguf", whole.read(10_000_000))


async def wait_for(condition: Any, seconds: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.05)


GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else 'user' }}\n"
    "{% if m['role'] == 'system' %}TEMPLATE-FROM-THE-FILE {% endif %}{{ m['content'] }}<end_of_turn>\n{% endfor %}"
    "<start_of_turn>model\n")


async def test_the_files_own_chat_template_is_used_where_it_has_one(gguf: GgufProvider, models_dir: Path,
                                                                    model_file: Path, tmp_path: Path) -> None:
    from salon.providers.gguf.file import read_header
    from tests.gguf.templated import with_chat_template

    templated = with_chat_template(model_file, models_dir / "templated.gguf", GEMMA_TEMPLATE)
    assert read_header(templated).chat_template == GEMMA_TEMPLATE

    fallback = await collect(gguf, ask("gemma3", max_tokens=4))
    own = await collect(gguf, ask("templated", max_tokens=4))

    assert own[-1].finish_reason in ("stop", "length") and own[-1].usage.output_tokens
    # The template's words are in the prompt the model read: more prompt tokens than the fallback's for the same
    # conversation (which folds the system prompt into the user's turn without them).
    assert own[-1].usage.input_tokens > fallback[-1].usage.input_tokens


async def test_an_agent_with_tools_on_a_gguf_model_is_told_tools_are_not_offered(gguf: GgufProvider) -> None:
    clock = ToolSpec("get_current_time", "The time.", {"type": "object", "properties": {}})
    request = CompletionRequest("gemma3", PROMPT, tools=(clock,))

    with pytest.raises(ToolsUnsupported, match=r"gguf/gemma3.*does not support tools"):
        await collect(gguf, request)
    assert gguf.loads == 0  # refused before the model was loaded

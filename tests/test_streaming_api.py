"""The streaming guides' Python API on Salon: chunks, the collector, the interrupted error, the sync flavour.

Everything runs the real runner through the real `ollama` client against the Ollama test server (and through real
litellm against the OpenAI test server where a provider's streaming is the point).
"""

from __future__ import annotations

import asyncio
import threading
from types import MappingProxyType

import pytest

import salon
from salon.config.read import Config, ProviderSettings
from salon.errors import ModelNotFound, SalonError, StreamInterrupted
from salon.reply import Usage
from salon.streaming import StreamChunk, StreamingResponse, StreamInterruptedError
from tests.servers.ollama import OllamaServer, Scripted
from tests.servers.openai import OpenAIServer
from tests.servers.openai import Scripted as OpenAIScripted


async def collect(stream) -> list[StreamChunk]:
    return [chunk async for chunk in stream]


async def test_chunks_carry_the_text_as_it_arrives_and_who_wrote_it(ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(tokens=["Know", " thyself", "."]))
    chunks = await collect(salon.agent("socrates").stream("Advice?"))
    assert [c.content for c in chunks] == ["Know", " thyself", ".", ""]
    assert [c.is_final for c in chunks] == [False, False, False, True]
    first = chunks[0].metadata
    assert (first["agent"], first["agent_name"], first["model"], first["step"]) == (
        "socrates", "Socrates", "ollama/llama3.2", 0)
    assert first["message_id"].startswith("msg") and first["run_id"].startswith("run")
    assert {c.metadata["message_id"] for c in chunks} == {first["message_id"]}
    # The closing chunk carries the provider's own figures.
    assert chunks[-1].metadata["usage"] == Usage(input_tokens=26, output_tokens=3)
    assert chunks[-1].metadata["finish_reason"] == "stop"
    assert all(isinstance(c.timestamp, float) for c in chunks)
    assert [c.timestamp for c in chunks] == sorted(c.timestamp for c in chunks)


async def test_socrates_then_plato_stream_each_message_with_its_step(ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(tokens=["What ", "is it?"]), Scripted(tokens=["The ", "Form."]))
    chunks = await collect(salon.agent("socrates-then-plato").stream("What is justice?"))
    texts = [(c.metadata["agent_name"], c.metadata["step"], c.content) for c in chunks if c.content]
    assert texts == [("Socrates", 0, "What "), ("Socrates", 0, "is it?"), ("Plato", 1, "The "), ("Plato", 1, "Form.")]
    ends = [c for c in chunks if c.metadata.get("message_end")]
    assert [(c.metadata["step"], c.is_final) for c in ends] == [(0, False), (1, True)]
    assert [c.is_final for c in chunks].count(True) == 1 and chunks[-1].is_final
    assert ends[0].metadata["message_id"] != ends[1].metadata["message_id"]


async def test_the_collector_agrees_with_the_servers_own_counts(ollama_server: OllamaServer) -> None:
    pieces = ["Virtue", " is", " knowledge", ",", " said", " he", "."]
    ollama_server.script(Scripted(tokens=pieces))
    response = StreamingResponse()
    async for chunk in salon.agent("assistant").stream("What is virtue?"):
        response.add_chunk(chunk)
    assert response.complete_text == response.content == "".join(pieces)
    assert response.chunk_count == len(pieces)
    # The server's final line reports eval_count = its pieces and prompt_eval_count = 26: usage is those, not a
    # count of chunks (which would be marked estimated).
    assert len(ollama_server.requests) == 1
    assert response.usage == Usage(input_tokens=26, output_tokens=len(pieces), estimated=False)
    assert response.total_tokens == 26 + len(pieces)
    assert response.duration is not None and response.duration >= 0
    assert response.end_time == response.chunks[-1].timestamp


async def test_the_collectors_usage_is_the_final_messages(ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(tokens=["a", "b", "c"]), Scripted(tokens=["d", "e"]))
    response = await salon.agent("socrates-then-plato").arun("Go.")
    assert response.complete_text == "abcde" and response.chunk_count == 5
    assert response.usage == Usage(input_tokens=26, output_tokens=2)


async def test_a_server_dying_mid_stream_raises_with_the_partial_text(ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(tokens=["Half ", "a ", "thought"], cut_after=2))
    received: list[str] = []
    with pytest.raises(StreamInterruptedError) as caught:
        async for chunk in salon.agent("assistant").stream("hi"):
            received.append(chunk.content)
    assert "".join(received) == caught.value.partial_response == "Half a "
    assert isinstance(caught.value, SalonError) and isinstance(caught.value.cause, StreamInterrupted)


async def test_an_error_line_mid_stream_raises_with_the_servers_words(ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(tokens=["Half ", "a ", "thought"], error_after=2, error="model crashed"))
    with pytest.raises(StreamInterruptedError, match="model crashed") as caught:
        await collect(salon.agent("assistant").stream("hi"))
    assert caught.value.partial_response == "Half a "


async def test_a_cut_in_the_second_step_keeps_the_first_message_and_the_partial_second(
        ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(tokens=["What ", "is it?"]),
                         Scripted(tokens=["The ", "Form ", "itself"], cut_after=2))
    with pytest.raises(StreamInterruptedError) as caught:
        await collect(salon.agent("socrates-then-plato").stream("What is justice?"))
    assert caught.value.partial_response == "The Form "
    assert [reply.text for reply in caught.value.completed] == ["What is it?"]


async def test_thinking_is_not_a_chunk_but_is_kept_with_the_message(ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(tokens=["Yes", "."], thinking="Let me see."))
    response = StreamingResponse()
    async for chunk in salon.agent("assistant", model="ollama/qwen3").stream("Sure?"):
        response.add_chunk(chunk)
    assert response.complete_text == "Yes." and response.chunk_count == 2
    assert response.metadata["thinking"] == "Let me see."


async def test_cancelling_keeps_what_arrived(ollama_server: OllamaServer) -> None:
    release = threading.Event()
    ollama_server.script(Scripted(tokens=["One ", "two ", "three"], hold_final=release))
    stream = salon.agent("assistant").stream("Count.")
    received: list[str] = []
    try:
        with pytest.raises(StreamInterruptedError) as caught:
            async for chunk in stream:
                received.append(chunk.content)
                if "".join(received) == "One two three":
                    stream.cancel()  # the server still holds its final line: the reply is mid-stream
        assert caught.value.partial_response == "One two three" and caught.value.cause is None
    finally:
        release.set()


async def test_cancelling_from_another_task_interrupts_the_wait(ollama_server: OllamaServer) -> None:
    release = threading.Event()
    ollama_server.script(Scripted(tokens=["Still ", "going"], hold_final=release))
    handle = salon.agent("assistant")
    seen = asyncio.Event()
    received: list[str] = []

    async def consume() -> None:
        async for chunk in handle.stream("Go on."):
            received.append(chunk.content)
            if "".join(received) == "Still going":
                seen.set()

    task = asyncio.create_task(consume())
    try:
        await asyncio.wait_for(seen.wait(), 30)
        handle.cancel()  # the consumer now waits on the held final line
        with pytest.raises(StreamInterruptedError) as caught:
            await asyncio.wait_for(task, 30)
        assert caught.value.partial_response == "Still going"
    finally:
        release.set()


async def test_a_failure_before_any_text_raises_its_own_type(ollama_server: OllamaServer) -> None:
    with pytest.raises(ModelNotFound):
        await collect(salon.agent("assistant", model="ollama/nothing").stream("hi"))


async def test_per_call_params_reach_the_server(ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(text="Haiku."))
    await collect(salon.agent("assistant").stream("Write a haiku", temperature=0.9, max_tokens=50, seed=7))
    options = ollama_server.requests[-1]["options"]
    assert (options["temperature"], options["num_predict"], options["seed"]) == (0.9, 50, 7)


async def test_params_given_to_the_agent_apply_to_every_stream(ollama_server: OllamaServer) -> None:
    handle = salon.agent("socrates", temperature=0.1)
    await collect(handle.stream("a"))
    await collect(handle.stream("b", temperature=0.3))
    assert [r["options"]["temperature"] for r in ollama_server.requests] == [0.1, 0.3]


@pytest.mark.parametrize(("params", "says"), [
    ({"api_base": "http://evil.example"}, "config.toml"),
    ({"temprature": 0.5}, "not a generation parameter"),
    ({"temperature": "hot"}, "should be a number"),
])
async def test_params_outside_the_allowlist_are_refused_before_anything_is_sent(
        ollama_server: OllamaServer, params: dict, says: str) -> None:
    with pytest.raises(SalonError, match=says):
        salon.agent("assistant").stream("hi", **params)
    with pytest.raises(SalonError, match=says):
        salon.agent("assistant", **params)
    assert ollama_server.requests == []


def test_the_sync_flavour_streams_in_a_plain_for_loop(ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(tokens=["Know", " thyself"]))
    chunks = list(salon.agent("socrates").stream_sync("Advice?"))
    assert [c.content for c in chunks] == ["Know", " thyself", ""] and chunks[-1].is_final


def test_the_sync_flavour_raises_the_interrupted_error_with_its_text(ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(tokens=["Half ", "a ", "thought"], cut_after=2))
    received: list[str] = []
    with pytest.raises(StreamInterruptedError) as caught:
        for chunk in salon.agent("assistant").stream_sync("hi"):
            received.append(chunk.content)
    assert "".join(received) == caught.value.partial_response == "Half a "


def test_the_sync_flavour_can_be_cancelled_from_another_thread(ollama_server: OllamaServer) -> None:
    release = threading.Event()
    ollama_server.script(Scripted(tokens=["Wait ", "for it"], hold_final=release))
    stream = salon.agent("assistant").stream_sync("Go.")
    received: list[str] = []
    try:
        with pytest.raises(StreamInterruptedError) as caught:
            for chunk in stream:
                received.append(chunk.content)
                if "".join(received) == "Wait for it":
                    # From another thread, while the server still holds its final line.
                    other = threading.Thread(target=stream.cancel)
                    other.start()
                    other.join()
        assert caught.value.partial_response == "Wait for it"
    finally:
        release.set()


def test_leaving_a_sync_stream_early_closes_it(ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(tokens=["a", "b", "c"]), Scripted(tokens=["next"]))
    handle = salon.agent("assistant")
    for chunk in handle.stream_sync("hi"):
        assert chunk.content == "a"
        break
    assert [c.content for c in handle.stream_sync("again")] == ["next", ""]


def test_a_sync_stream_is_iterated_once(ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(tokens=["once"]))
    stream = salon.agent("assistant").stream_sync("hi")
    assert [c.content for c in stream] == ["once", ""]
    with pytest.raises(SalonError, match="only once"):
        list(stream)
    assert len(ollama_server.requests) == 1


async def test_the_sync_flavour_refuses_inside_a_running_loop(ollama_server: OllamaServer) -> None:
    with pytest.raises(SalonError, match="running event loop"):
        salon.agent("assistant").stream_sync("hi")
    assert ollama_server.requests == []


def test_the_guides_agent_spelling_builds_on_the_default_agent(ollama_server: OllamaServer) -> None:
    from salon.streaming import Agent

    ollama_server.script(Scripted(text="Yes."))
    handle = Agent(name="StreamBot", model="ollama/qwen3", instructions="Answer in one word.")
    chunks = list(handle.stream_sync("Ready?"))
    assert chunks[0].metadata["agent_name"] == "StreamBot" and chunks[0].metadata["model"] == "ollama/qwen3"
    assert handle.get_provider_info()["provider"] == "ollama" and handle.get_provider_info()["supports_streaming"]
    (request,) = ollama_server.requests
    assert request["model"] == "qwen3"
    assert request["messages"][0] == {"role": "system", "content": "Answer in one word."}
    # salon.Agent is still the agent definition every other part of Salon uses.
    assert salon.Agent is salon.agents.definition.Agent and handle.definition.__class__ is salon.Agent


async def test_an_agent_set_not_to_stream_gives_one_final_chunk(ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(tokens=["All ", "at ", "once."]))
    chunks = await collect(salon.agent("assistant", stream=False).stream("hi"))
    assert [(c.content, c.is_final) for c in chunks] == [("All at once.", True)]
    assert chunks[0].metadata["usage"] == Usage(input_tokens=26, output_tokens=3)
    assert ollama_server.requests[0]["stream"] is False


def test_supports_streaming_answers_per_model() -> None:
    assert salon.supports_streaming("ollama/llama3.2")
    assert salon.supports_streaming("openai/gpt-4o-mini")
    # litellm's own model list marks these as having no native streaming.
    assert not salon.supports_streaming("openai/o1-pro")
    config = Config(providers=MappingProxyType({"local": ProviderSettings(api_base="http://127.0.0.1:9/v1",
                                                                          stream=False)}))
    assert not salon.supports_streaming("local/qwen2.5-7b-instruct", config)


@pytest.mark.filterwarnings("ignore::DeprecationWarning:litellm")
async def test_a_provider_that_cannot_stream_falls_back_to_one_final_chunk(openai_server: OpenAIServer) -> None:
    openai_server.script(OpenAIScripted(tokens=["Whole ", "reply."], prompt_tokens=31))
    config = Config(read_timeout=5.0, connect_timeout=2.0, providers=MappingProxyType(
        {"local": ProviderSettings(api_base=openai_server.api_base, stream=False)}))
    handle = salon.agent("assistant", model="local/qwen2.5-7b-instruct", config=config)
    assert handle.get_provider_info() == {"agent": "assistant", "model": "local/qwen2.5-7b-instruct",
                                          "models": ["local/qwen2.5-7b-instruct"], "provider": "local",
                                          "supports_streaming": False}
    chunks = await collect(handle.stream("hi"))
    assert [(c.content, c.is_final) for c in chunks] == [("Whole reply.", True)]
    assert chunks[0].metadata["usage"] == Usage(input_tokens=31, output_tokens=2)
    (request,) = openai_server.chat_requests
    assert not request.body.get("stream")


def test_importing_the_streaming_api_loads_nothing_heavy() -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT, salon_env

    code = ("import sys, salon, salon.streaming; salon.StreamingResponse; salon.StreamInterruptedError; "
            "heavy = [m for m in ('textual', 'ollama', 'httpx', 'litellm', 'sqlite3') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=salon_env(), cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stderr


@pytest.mark.filterwarnings("ignore::DeprecationWarning:litellm")
async def test_every_face_asks_a_server_that_cannot_stream_for_whole_replies(openai_server: OpenAIServer) -> None:
    openai_server.script(OpenAIScripted(tokens=["Whole ", "reply."]))
    config = Config(read_timeout=5.0, connect_timeout=2.0, providers=MappingProxyType(
        {"local": ProviderSettings(api_base=openai_server.api_base, stream=False)}))
    reply = await salon.ask("assistant", "hi", model="local/qwen2.5-7b-instruct", config=config)
    assert reply.text == "Whole reply."
    (request,) = openai_server.chat_requests
    assert not request.body.get("stream")


def test_config_toml_marks_a_server_that_cannot_stream(config_dir) -> None:
    from salon.config.read import load_config

    (config_dir / "config.toml").write_text('[providers.local]\napi_base = "http://127.0.0.1:1234/v1"\n'
                                            'stream = false\n[providers.other]\nstream = "no"\n')
    config = load_config()
    assert config.providers["local"].stream is False and config.providers["other"].stream is True
    assert any("providers.other.stream" in warning for warning in config.warnings)
    assert not salon.supports_streaming("local/qwen2.5-7b-instruct")


def test_config_show_lists_a_server_that_cannot_stream(config_dir) -> None:
    from tests.conftest import run_salon

    (config_dir / "config.toml").write_text('[providers.local]\napi_base = "http://127.0.0.1:1234/v1"\n'
                                            'stream = false\n[providers.openai]\nstream = true\n')
    shown = run_salon("config", "show")
    assert shown.returncode == 0, shown.stderr
    local = shown.stdout.split("[providers.local]")[1].split("[providers.openai]")[0]
    assert "stream = false" in local and "stream" not in shown.stdout.split("[providers.openai]")[1]

"""The provider contract: what every provider must do, run over each one against its real wire protocol.

Each provider has a :class:`Harness` below: how to start the server it talks to, script that server's answers,
build the provider with a given read timeout, and point one at a place nothing answers. To add a provider, write
its harness, add it to ``HARNESSES``, and every scenario here runs over it.

A provider with no server to script (the embedded gguf one, which runs a real model in-process) has a
:class:`LiveHarness` instead, and so has every other provider: the live scenarios (a reply streams and ends with
its counts, a whole reply is one chunk, a cancelled run keeps its partial text, a missing model is Salon's error)
run over all of them, with assertions that hold whatever the model says.

"Retryable" here is what Salon's run does with a failure before any text: a busy server is tried again, a server
that is not there fails at once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from salon.agents.definition import Agent, Step
from salon.config.read import Config, ProviderSettings
from salon.errors import ProviderError, ServerBusy, StreamInterrupted, StreamStalled, ToolsUnsupported
from salon.events import Event, MessageCompleted, MessageDelta, RunCancelled, RunCompleted, RunFailed
from salon.providers import ChatMessage, CompletionRequest, Provider
from salon.providers.base import ToolRequest, ToolSpec
from salon.providers.cloud.provider import CloudProvider
from salon.providers.ollama import OllamaProvider
from salon.reply import Chunk, ReplyBuilder
from salon.runner.run import Run
from tests.conftest import ClosedPort
from tests.servers import ollama as ollama_wire
from tests.servers import openai as openai_wire

# litellm reads pydantic fields the deprecated way on every chunk; that is litellm's to fix, not these tests' news.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:litellm")

PROMPT = [ChatMessage("system", "Be brief."), ChatMessage("user", "What is virtue?")]
CLOUD_KEY = "sk-salon-contract-8d1e"


@dataclass
class Harness:
    """One provider under the contract, with the server it speaks to."""

    name: str
    server: Any
    scripted: Callable[..., Any]
    """The server's own ``Scripted`` class: both test servers take the same fault fields."""
    make: Callable[[float], Provider]
    """A provider on the server, with this read timeout (seconds)."""
    unreachable: Callable[[ClosedPort], Provider]
    model: str
    ref: str
    """The model as an agent names it."""
    says_stalled: tuple[str, ...]
    says_unreadable: str
    estimates: bool
    """Whether usage the server did not send is estimated (and marked so), or left out."""
    refuse_tools: Callable[[], None]
    """Make the harness's model one that cannot call tools (it can by default)."""
    arguments_as: Callable[[dict[str, Any]], Any]
    """Tool call arguments as the wire carries them: an object for Ollama, JSON text for OpenAI's API."""

    def script(self, **reply: Any) -> None:
        self.server.script(self.scripted(**reply))

    def script_tool_calls(self, text: str, *calls: tuple[str, dict[str, Any]]) -> None:
        self.script(text=text, tool_calls=[{"name": name, "arguments": self.arguments_as(arguments)}
                                           for name, arguments in calls])

    def sent(self) -> list[dict[str, Any]]:
        """The bodies of the chat requests the server received, in order."""
        if self.name == "ollama":
            return [r for r in self.server.requests if "messages" in r]
        return [r.body for r in self.server.chat_requests]


def ollama_harness(server: ollama_wire.OllamaServer) -> Harness:
    server.add_model("llama3.2", "completion", "tools")
    return Harness(
        name="ollama", server=server, scripted=ollama_wire.Scripted,
        make=lambda read_timeout: OllamaProvider(f"http://{server.host}", read_timeout=read_timeout),
        unreachable=lambda port: OllamaProvider(f"http://{port.host}", connect_timeout=2.0),
        model="llama3.2", ref="ollama/llama3.2",
        says_stalled=("no data from the server for 0.5 s",), says_unreadable="not Ollama's API", estimates=False,
        refuse_tools=lambda: server.add_model("llama3.2", "completion"), arguments_as=lambda args: args)


def cloud_harness(server: openai_wire.OpenAIServer) -> Harness:
    def config(api_base: str, read_timeout: float) -> Config:
        # The section's read_timeout, not the global one, governs this provider: the stall scenario shows it.
        section = ProviderSettings(api_base=api_base, read_timeout=read_timeout)
        return Config(read_timeout=30.0, connect_timeout=2.0, providers=MappingProxyType({"openai": section}))

    return Harness(
        name="cloud", server=server, scripted=openai_wire.Scripted,
        make=lambda read_timeout: CloudProvider(config(server.api_base, read_timeout)),
        unreachable=lambda port: CloudProvider(config(f"http://{port.host}/v1", 5.0)),
        model="openai/gpt-4o-mini", ref="openai/gpt-4o-mini",
        says_stalled=("no data from openai for 0.5 s", "[providers.openai]"), says_unreadable="could not read",
        estimates=True, refuse_tools=lambda: server.set_default(openai_wire.Scripted(unsupported_tools=True)),
        arguments_as=lambda args: json.dumps(args))


SERVERS: dict[str, Callable[[], AbstractContextManager[Any]]] = {
    "ollama": ollama_wire.OllamaServer,
    "cloud": openai_wire.OpenAIServer,
}
HARNESSES: dict[str, Callable[[Any], Harness]] = {"ollama": ollama_harness, "cloud": cloud_harness}


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("OPENAI_API_KEY", CLOUD_KEY)
    with SERVERS[request.param]() as server:
        yield HARNESSES[request.param](server)


@pytest.fixture
async def provider(harness: Harness) -> AsyncIterator[Provider]:
    provider = harness.make(5.0)
    yield provider
    await provider.aclose()


async def chunks_until_error(provider: Provider, request: CompletionRequest) -> tuple[list[Chunk], BaseException]:
    received: list[Chunk] = []
    try:
        async for chunk in provider.stream(request):
            if not chunk.sent:  # "the request went out" is no part of the reply
                received.append(chunk)
    except Exception as error:
        return received, error
    raise AssertionError(f"the stream ended without an error after {len(received)} chunks")


async def run_events(harness: Harness, provider: Provider | _Only,
                     retry_delays: tuple[float, ...] = ()) -> list[Event]:
    """A one-step agent on the harness's model, run as Salon runs every agent."""
    step = Step("contract", "Contract", harness.ref)
    agent = Agent(id="contract", name="Contract", model=harness.ref, steps=(step,))
    only = provider if isinstance(provider, _Only) else _Only(provider)
    return [event async for event in Run(agent, [ChatMessage("user", "Go.")], only,  # type: ignore[arg-type]
                                         retry_delays=retry_delays)]


class _Only:
    """The one provider under test, where a run asks its Providers for one."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.streams = 0

    def for_model(self, ref: str) -> Provider:
        return self

    def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        self.streams += 1
        return self.provider.stream(request)


def completed(events: list[Event]) -> MessageCompleted:
    return next(e for e in events if isinstance(e, MessageCompleted))


def request(harness: Harness, *, stream: bool = True) -> CompletionRequest:
    return CompletionRequest(harness.model, PROMPT, stream=stream)


# -- the scenarios -------------------------------------------------------------------------------------------------


async def test_without_streaming_the_whole_reply_arrives_as_exactly_one_chunk(harness: Harness, provider) -> None:
    harness.script(text="All at once.")
    chunks = [c async for c in provider.stream(request(harness, stream=False)) if not c.sent]
    assert len(chunks) == 1
    assert chunks[0].text == "All at once." and chunks[0].usage.output_tokens == 3
    assert [bool(body.get("stream")) for body in harness.sent()] == [False]


@pytest.mark.parametrize("fault", ["error_after", "cut_after", "malformed_after"])
async def test_a_reply_cut_mid_way_keeps_what_arrived(harness: Harness, provider, fault: str) -> None:
    # An error line from the server, a dropped connection, garbage on the wire: all after two tokens.
    harness.script(tokens=["Virtue", " is", " teach", "able"], error="The model crashed mid-thought.",
                   **{fault: 2})
    received, error = await chunks_until_error(provider, request(harness))
    assert "".join(c.text for c in received) == "Virtue is"
    assert isinstance(error, StreamInterrupted) and error.retryable
    said = {"error_after": "The model crashed mid-thought.", "cut_after": "cut mid-reply",
            "malformed_after": harness.says_unreadable}[fault]
    assert said in str(error)
    assert "litellm" not in str(error).lower()

    harness.script(tokens=["Virtue", " is", " teach", "able"], error="The model crashed mid-thought.",
                   **{fault: 2})
    events = await run_events(harness, provider)
    done = completed(events)
    assert (done.status, done.reply.text) == ("failed", "Virtue is")
    assert isinstance(events[-1], RunFailed) and events[-1].exception.partial == "Virtue is"


async def test_a_stalled_stream_raises_the_stall_error_after_the_read_timeout(harness: Harness) -> None:
    harness.script(tokens=["Virtue", " is"], stall_after=1, stall_seconds=30)
    provider = harness.make(0.5)
    try:
        received, error = await chunks_until_error(provider, request(harness))
    finally:
        await provider.aclose()
    assert "".join(c.text for c in received) == "Virtue"
    assert isinstance(error, StreamStalled) and error.retryable
    for words in harness.says_stalled:
        assert words in str(error)


async def test_a_busy_server_is_retried_before_any_text_and_then_answers(harness: Harness, provider) -> None:
    harness.script(status=503, error="server busy, please try again")
    received, error = await chunks_until_error(provider, request(harness))
    assert received == [] and isinstance(error, ServerBusy) and error.retryable
    assert "busy" in str(error)

    harness.server.script(harness.scripted(status=503, error="server busy"),
                          harness.scripted(text="Second time lucky."))
    events = await run_events(harness, provider, retry_delays=(0.01,))
    assert completed(events).reply.text == "Second time lucky."
    assert isinstance(events[-1], RunCompleted)
    assert len(harness.sent()) == 3  # the first refusal, then a refusal and the retry that answered


async def test_a_server_that_is_not_there_fails_at_once_without_a_retry(
        harness: Harness, closed_port: ClosedPort) -> None:
    provider = harness.unreachable(closed_port)
    only = _Only(provider)
    try:
        events = await run_events(harness, only, retry_delays=(0.01, 0.01))
    finally:
        await provider.aclose()
    failed = events[-1]
    assert isinstance(failed, RunFailed) and not isinstance(failed.exception, ServerBusy)
    assert only.streams == 1
    assert "cannot reach" in failed.error and "connection refused" in failed.error


@pytest.mark.parametrize("answer", [
    {"status": 400, "error": "bad request"},
    {"status": 404, "error": "model 'x' not found"},
    {"status": 500, "error": "internal error"},
    {"tokens": ["a", "b"], "cut_after": 1},
    {"tokens": ["a", "b"], "malformed_after": 0},
], ids=["400", "404", "500", "cut", "garbage"])
async def test_only_salons_error_types_escape(harness: Harness, provider, answer: dict[str, Any]) -> None:
    harness.script(**answer)
    _, error = await chunks_until_error(provider, request(harness))
    assert isinstance(error, ProviderError), f"{type(error).__module__}.{type(error).__name__}: {error}"


@pytest.mark.parametrize("usage", [True, False], ids=["counted", "not-sent"])
@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
async def test_usage_is_the_servers_count_or_marked_estimated(
        harness: Harness, provider, usage: bool, stream: bool) -> None:
    harness.script(text="Virtue is knowledge.", usage=usage)
    builder = ReplyBuilder(harness.ref)
    async for chunk in provider.stream(request(harness, stream=stream)):
        builder.add(chunk)
    counted = builder.freeze().usage
    if usage:
        assert (counted.input_tokens, counted.output_tokens, counted.estimated) == (26, 3, False)
    elif harness.estimates:
        # Never a guess shown as a count: an estimate is marked so (and never litellm's zeros).
        assert counted.estimated is True
        assert counted.output_tokens and counted.input_tokens
    else:
        assert (counted.input_tokens, counted.output_tokens, counted.estimated) == (None, None, False)


CLOCK_TOOL = ToolSpec("get_current_time", "The time in a timezone.",
                      {"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]})


def tools_request(harness: Harness, messages: list[ChatMessage] = PROMPT, *, stream: bool = True
                  ) -> CompletionRequest:
    return CompletionRequest(harness.model, messages, stream=stream, tools=(CLOCK_TOOL,))


def assembled(chunks: list[Chunk]) -> list[tuple[str, str, dict[str, Any]]]:
    """The tool calls of a stream as a runner assembles them: per index, id and name once, arguments appended."""
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for piece in chunk.tool_calls:
            call = calls.setdefault(piece.index, {"id": "", "name": "", "arguments": ""})
            call["id"] = call["id"] or piece.id or ""
            call["name"] = call["name"] or piece.name or ""
            call["arguments"] += piece.arguments
    return [(c["id"], c["name"], json.loads(c["arguments"])) for _, c in sorted(calls.items())]


@pytest.mark.parametrize("stream", [True, False])
async def test_tool_calls_stream_in_pieces_and_assemble_per_index(harness: Harness, provider, stream: bool) -> None:
    harness.script_tool_calls("Let me check.", ("get_current_time", {"timezone": "Asia/Tokyo"}),
                              ("get_current_time", {"timezone": "Europe/Paris"}))
    chunks = [c async for c in provider.stream(tools_request(harness, stream=stream))]
    assert "".join(c.text for c in chunks) == "Let me check."
    calls = assembled(chunks)
    assert [(name, args) for _, name, args in calls] == [("get_current_time", {"timezone": "Asia/Tokyo"}),
                                                          ("get_current_time", {"timezone": "Europe/Paris"})]
    assert all(call_id for call_id, _, _ in calls) and len({c[0] for c in calls}) == 2
    [sent] = harness.sent()
    assert sent["tools"] == [CLOCK_TOOL.wire()]
    if stream and harness.name == "cloud":
        # OpenAI's API sends the arguments in several pieces: they were joined, not taken from one chunk.
        assert sum(1 for c in chunks for p in c.tool_calls if p.arguments) > 2


async def test_tool_results_go_back_as_tool_messages_in_the_wire_shape(harness: Harness, provider) -> None:
    harness.script(text="It is noon in Tokyo.")
    asked = ChatMessage("assistant", "Let me check.",
                        tool_calls=(ToolRequest("call_7", "get_current_time", '{"timezone": "Asia/Tokyo"}'),))
    answer = ChatMessage("tool", '{"datetime": "2026-12-02T12:00:00+09:00"}', tool_call_id="call_7",
                         tool_name="get_current_time")
    chunks = [c async for c in provider.stream(tools_request(harness, [*PROMPT, asked, answer]))]
    assert "".join(c.text for c in chunks) == "It is noon in Tokyo."
    [sent] = harness.sent()
    assistant, tool = sent["messages"][-2:]
    [call] = assistant["tool_calls"]
    assert call["function"]["name"] == "get_current_time"
    assert tool["role"] == "tool" and tool["content"] == '{"datetime": "2026-12-02T12:00:00+09:00"}'
    if harness.name == "ollama":
        assert call["function"]["arguments"] == {"timezone": "Asia/Tokyo"}
        assert tool["tool_name"] == "get_current_time"
    else:
        assert json.loads(call["function"]["arguments"]) == {"timezone": "Asia/Tokyo"}
        assert call["id"] == "call_7" and tool["tool_call_id"] == "call_7"


async def test_a_model_that_cannot_call_tools_says_so(harness: Harness, provider) -> None:
    harness.refuse_tools()
    received, error = await chunks_until_error(provider, tools_request(harness))
    assert received == []
    assert isinstance(error, ToolsUnsupported)
    assert "does not support tools" in str(error) and harness.model.split("/")[-1] in str(error)


# -- the live contract: every provider, the embedded one on a real model -----------------------------------------


@dataclass
class LiveHarness:
    """One provider answering for real: a scripted server's plain reply, or a real model."""

    name: str
    provider: Provider
    model: str
    ref: str
    missing: str
    """A model the provider does not have, as a request names it."""
    params: dict[str, Any]
    long_params: dict[str, Any]
    """Parameters for a reply long enough to be cancelled mid-way."""
    refuse_missing: Callable[[], None] = lambda: None
    """Make the server answer the next request as it does for a model it lacks."""


LIVE = ("cloud", "gguf", "ollama")
_WORDS = " ".join(f"word{i}" for i in range(40))


@pytest.fixture(params=LIVE)
async def live(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
               tmp_path: Path) -> AsyncIterator[LiveHarness]:
    monkeypatch.setenv("OPENAI_API_KEY", CLOUD_KEY)
    if request.param == "gguf":
        from salon.providers.gguf.provider import GgufProvider
        from tests.gguf.model import require_engine

        require_engine()
        folder = tmp_path / "models"
        folder.mkdir()
        (folder / "gemma3.gguf").symlink_to(request.getfixturevalue("model_file"))
        provider = GgufProvider([folder], store=tmp_path / "no-store", threads=1)
        try:
            yield LiveHarness("gguf", provider, "gemma3", "gguf/gemma3", "no-such-model",
                              {"max_tokens": 8, "seed": 1}, {"max_tokens": 400, "seed": 1})
        finally:
            await provider.aclose()
        return
    with SERVERS[request.param]() as server:
        base = HARNESSES[request.param](server)
        # Every reply is this one, slow enough to be cancelled mid-way.
        server.script(*[base.scripted(text=_WORDS, rate=40.0) for _ in range(8)])
        if request.param == "ollama":
            refuse = lambda: server.script(base.scripted(status=404, error="model 'no-such-model' not found"))  # noqa: E731
            missing = "no-such-model"
        else:
            refuse, missing = (lambda: None), "openai/no-such-model"  # the server lists only gpt-4o-mini
        harness = LiveHarness(request.param, base.make(10.0), base.model, base.ref, missing, {}, {}, refuse)
        try:
            yield harness
        finally:
            await harness.provider.aclose()


def live_request(harness: LiveHarness, *, stream: bool = True, model: str | None = None) -> CompletionRequest:
    return CompletionRequest(model or harness.model, PROMPT, params=MappingProxyType(harness.params), stream=stream)


async def test_live_a_reply_streams_in_pieces_and_ends_with_counted_usage(live: LiveHarness) -> None:
    builder = ReplyBuilder(live.ref)
    chunks = [builder.add(c) async for c in live.provider.stream(live_request(live))]
    reply = builder.freeze()

    assert builder.chunks >= 2 and reply.text == "".join(c.text for c in chunks) and reply.text.strip()
    assert chunks[-1].finish_reason in ("stop", "length")
    assert reply.usage.estimated is False and reply.usage.input_tokens
    # Counted, not guessed: at most one piece per token.
    assert reply.usage.output_tokens and reply.usage.output_tokens >= builder.chunks


async def test_live_without_streaming_the_reply_is_one_chunk(live: LiveHarness) -> None:
    chunks = [c async for c in live.provider.stream(live_request(live, stream=False)) if not c.sent]

    assert len(chunks) == 1 and chunks[0].text.strip() and chunks[0].usage.output_tokens


async def test_live_a_cancelled_run_keeps_its_partial_text_marked_interrupted(live: LiveHarness) -> None:
    step = Step("contract", "Contract", live.ref, params=MappingProxyType(live.long_params))
    agent = Agent(id="contract", name="Contract", model=live.ref, steps=(step,))
    run = Run(agent, [ChatMessage("user", "Go on, at length.")], _Only(live.provider))  # type: ignore[arg-type]
    events = []
    async for event in run:
        events.append(event)
        if isinstance(event, MessageDelta) and sum(isinstance(e, MessageDelta) for e in events) == 3:
            run.cancel()

    done = completed(events)
    assert done.status == "interrupted"
    assert done.reply.text == "".join(e.text for e in events if isinstance(e, MessageDelta)) != ""
    assert isinstance(events[-1], RunCancelled)


async def test_live_a_model_that_is_not_there_is_salons_error_before_any_text(live: LiveHarness) -> None:
    live.refuse_missing()
    received, error = await chunks_until_error(live.provider, live_request(live, model=live.missing))

    assert received == []
    assert isinstance(error, ProviderError) and not error.retryable
    assert live.missing.split("/")[-1] in str(error)


def test_every_provider_salon_ships_has_a_harness() -> None:
    # A provider added to salon.providers without a harness here would pass no contract at all.
    import importlib
    import inspect
    import pkgutil

    import salon.providers

    labels = set()
    # Walked recursively: providers live in subpackages too (providers/gguf/, providers/cloud/).
    for module_info in pkgutil.walk_packages(salon.providers.__path__, prefix="salon.providers."):
        module = importlib.import_module(module_info.name)
        labels |= {cls.label for _, cls in inspect.getmembers(module, inspect.isclass)
                   if cls.__module__ == module.__name__ and isinstance(getattr(cls, "label", None), str)
                   and callable(getattr(cls, "stream", None))}
    assert labels == set(LIVE)
    # The scripted scenarios need a server to script: every provider that talks to one has them too.
    assert set(HARNESSES) == labels - {"gguf"}

"""Cloud models through the real litellm, against a real OpenAI-speaking server on 127.0.0.1 (via ``api_base``).

Each test runs an agent as a user would (``Session.run``) and checks what the user sees or keeps: the streamed
text, the final message and its usage, the error message, the request the server received.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from salon import locations
from salon.agents.definition import Agent, Step, load_agents
from salon.api import Session
from salon.cli.ask import usage_line
from salon.config.read import Config, ProviderSettings, load_config
from salon.events import (
    Event,
    MessageCompleted,
    MessageDelta,
    RunCancelled,
    RunCompleted,
    RunFailed,
)
from salon.providers import ChatMessage, Providers
from salon.providers.cloud.provider import NO_KEY, CloudProvider, import_litellm_async
from salon.runner.run import Run
from salon.serve.payloads import to_openai
from tests.servers.openai import CONTEXT_TOO_LONG, OpenAIServer, Scripted, remote_requests, script_remote

KEY = "sk-salon-test-4f9c2a7e1b"

# litellm reads pydantic fields the deprecated way on every chunk; that is litellm's to fix, not these tests' news.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:litellm")


def settings(server: OpenAIServer | None = None, **extra: Any) -> ProviderSettings:
    if "headers" in extra:
        extra["headers"] = MappingProxyType(extra["headers"])
    if "models" in extra:
        extra["models"] = tuple(extra["models"])
    return ProviderSettings(api_base=server.api_base if server else None, **extra)


def cloud_config(read_timeout: float = 5.0, **sections: ProviderSettings) -> Config:
    return Config(read_timeout=read_timeout, connect_timeout=2.0, providers=MappingProxyType(sections))


def agent(model: str = "openai/gpt-4o-mini", *, system: str | None = "Be brief.", stream: bool = True,
          **params: Any) -> Agent:
    step = Step("cloudy", "Cloudy", model, system=system, params=MappingProxyType(params), stream=stream)
    return Agent(id="cloudy", name="Cloudy", model=model, steps=(step,), system=system,
                 params=MappingProxyType(params), stream=stream)


async def run_agent(config: Config, the_agent: Agent, prompt: str = "What is virtue?",
                    retry_delays: tuple[float, ...] = ()) -> list[Event]:
    providers = Providers(config)
    try:
        return [event async for event in Run(the_agent, [ChatMessage("user", prompt)], providers,
                                             retry_delays=retry_delays)]
    finally:
        await providers.aclose()


def completed(events: list[Event]) -> MessageCompleted:
    return next(e for e in events if isinstance(e, MessageCompleted))


def failure(events: list[Event]) -> RunFailed:
    ends = [e for e in events if isinstance(e, RunFailed)]
    assert ends, f"the run did not fail: {events[-1]!r}"
    return ends[0]


def streamed(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, MessageDelta))


# --- streaming, usage, the request sent -------------------------------------------------------------------------


async def test_a_cloud_reply_streams_token_by_token_and_keeps_the_providers_counts(
        openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    openai_server.require_key(KEY)
    openai_server.script(Scripted(tokens=["Virtue", " is", " knowledge", "."], prompt_tokens=31))
    events = await run_agent(cloud_config(openai=settings(openai_server)), agent())

    deltas = [e.text for e in events if isinstance(e, MessageDelta)]
    assert deltas == ["Virtue", " is", " knowledge", "."]
    done = completed(events)
    assert (done.status, done.reply.text, done.reply.finish_reason) == ("complete", "Virtue is knowledge.", "stop")
    assert (done.reply.usage.input_tokens, done.reply.usage.output_tokens) == (31, 4)
    assert done.reply.usage.estimated is False
    assert "(estimated)" not in usage_line("Cloudy", done.reply)
    assert done.reply.model == "openai/gpt-4o-mini"
    assert isinstance(events[-1], RunCompleted)

    (request,) = openai_server.chat_requests
    assert request.body["model"] == "gpt-4o-mini"
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}
    assert request.body["messages"] == [{"role": "system", "content": "Be brief."},
                                        {"role": "user", "content": "What is virtue?"}]
    assert request.bearer == KEY


async def test_a_server_that_sends_no_counts_gives_usage_marked_estimated(
        openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    openai_server.script(Scripted(text="Virtue is knowledge.", usage=False, prompt_tokens=999))
    done = completed(await run_agent(cloud_config(openai=settings(openai_server)), agent()))

    assert done.reply.text == "Virtue is knowledge."
    assert done.reply.usage.estimated is True
    # litellm's own estimate, never the server's (absent) figure presented as a count.
    assert done.reply.usage.input_tokens not in (None, 999)
    assert done.reply.usage.output_tokens is not None and done.reply.usage.output_tokens > 0
    assert usage_line("Cloudy", done.reply).count("(estimated)") == 1
    assert done.reply.metadata()["usage_estimated"] is True



async def test_reasoning_content_arrives_as_thinking_apart_from_the_text(
        openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    openai_server.script(Scripted(reasoning="Define virtue first.", text="It is knowledge."))
    events = await run_agent(cloud_config(openai=settings(openai_server)), agent())

    done = completed(events)
    assert (done.reply.thinking, done.reply.text) == ("Define virtue first.", "It is knowledge.")
    assert streamed(events) == "It is knowledge."


async def test_agent_params_reach_the_server_and_ollama_only_settings_do_not(
        openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    params = {"temperature": 0.2, "max_tokens": 300, "seed": 7, "stop": ["\n\n"], "top_k": 40, "min_p": 0.05,
              "num_ctx": 8192, "keep_alive": "5m", "think": "low"}
    config = cloud_config(openai=settings(openai_server), local=settings(openai_server))
    await run_agent(config, agent("openai/gpt-4o-mini", **params))
    await run_agent(config, agent("local/qwen2.5-7b-instruct", **params))

    to_openai_api, to_own_server = (r.body for r in openai_server.chat_requests)
    for body in (to_openai_api, to_own_server):
        assert (body["temperature"], body["max_tokens"], body["seed"], body["stop"]) == (0.2, 300, 7, ["\n\n"])
        assert not {"num_ctx", "keep_alive", "think", "options"} & set(body)
    # OpenAI's API refuses local samplers with a 400; a server of one's own (llama.cpp, vLLM) takes them.
    assert not {"top_k", "min_p"} & set(to_openai_api)
    assert (to_own_server["top_k"], to_own_server["min_p"]) == (40, 0.05)


async def test_a_cancelled_cloud_reply_keeps_its_partial_text(
        openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    openai_server.script(Scripted(text=" ".join(f"word{i}" for i in range(200)), rate=50))
    providers = Providers(cloud_config(openai=settings(openai_server)))
    run = Run(agent(), [ChatMessage("user", "Go on.")], providers)
    events: list[Event] = []
    async for event in run:
        events.append(event)
        if isinstance(event, MessageDelta) and len(streamed(events).split()) == 3:
            run.cancel()
    await providers.aclose()

    done = completed(events)
    assert done.status == "interrupted"
    assert done.reply.text == "word0 word1 word2"
    assert isinstance(events[-1], RunCancelled)


# --- keys and headers ---------------------------------------------------------------------------------------------


async def test_api_key_env_names_the_variable_that_holds_the_key(
        openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-usual-variable")
    monkeypatch.setenv("SALON_WORK_KEY", KEY)
    openai_server.require_key(KEY)
    config = cloud_config(openai=settings(openai_server, api_key_env="SALON_WORK_KEY"))
    events = await run_agent(config, agent())

    assert isinstance(events[-1], RunCompleted)
    assert openai_server.chat_requests[0].bearer == KEY


async def test_extra_headers_from_config_are_sent_with_every_request(
        openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    headers = {"HTTP-Referer": "https://salon.example", "X-Title": "Salon"}
    # The server speaks OpenAI's API, as OpenRouter's does: a known provider pointed at it through api_base.
    config = cloud_config(openrouter=settings(openai_server, headers=headers))
    events = await run_agent(config, agent("openrouter/gpt-4o-mini"))

    assert isinstance(events[-1], RunCompleted)
    (request,) = openai_server.chat_requests
    assert request.headers["http-referer"] == "https://salon.example"
    assert request.headers["x-title"] == "Salon"
    assert request.bearer == KEY


async def test_a_missing_key_is_reported_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    events = await run_agent(cloud_config(), agent("openai/gpt-4o-mini"))

    failed = failure(events)
    assert failed.error_type == "MissingKey"
    assert "set OPENAI_API_KEY (or api_key_env in config.toml)" in failed.error
    assert completed(events).status == "failed"


async def test_a_named_key_variable_that_is_unset_is_reported_without_contacting_the_server(
        openai_server: OpenAIServer) -> None:
    config = cloud_config(openai=settings(openai_server, api_key_env="SALON_WORK_KEY"))
    failed = failure(await run_agent(config, agent()))

    assert failed.error_type == "MissingKey"
    assert "set SALON_WORK_KEY (or api_key_env in config.toml)" in failed.error
    assert openai_server.requests == []


async def test_a_server_of_your_own_is_never_sent_your_openai_key(
        openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    openai_server.script(Scripted(text="Hello from LM Studio."))
    config = cloud_config(local=settings(openai_server))
    events = await run_agent(config, agent("local/qwen2.5-7b-instruct"))

    done = completed(events)
    assert done.reply.text == "Hello from LM Studio."
    assert done.reply.model == "local/qwen2.5-7b-instruct"
    (request,) = openai_server.chat_requests
    assert request.body["model"] == "qwen2.5-7b-instruct"
    assert request.bearer == NO_KEY


async def test_a_model_prefix_nobody_serves_says_how_to_configure_it() -> None:
    failed = failure(await run_agent(cloud_config(), agent("lmstudio/qwen2.5")))

    assert failed.error_type == "UnknownProvider"
    assert "[providers.lmstudio]" in failed.error and "api_base" in failed.error


async def test_a_key_never_reaches_error_messages_events_or_logs(
        openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    # A careless server that quotes the whole key back in its error.
    openai_server.script(Scripted(status=401, error=f"Incorrect API key provided: {KEY}."))
    caplog.set_level(logging.DEBUG)
    events = await run_agent(cloud_config(openai=settings(openai_server)), agent())

    failed = failure(events)
    assert failed.error_type == "AuthError"
    assert "Incorrect API key provided: ***" in failed.error
    exported = json.dumps([to_openai(e) for e in events])
    assert KEY not in exported
    assert KEY not in repr(events)
    assert KEY not in caplog.text


# --- errors -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scripted", "model", "error_type", "says"),
    [
        (Scripted(status=401, error="Incorrect API key provided: sk-te***7e1b."), "openai/gpt-4o-mini",
         "AuthError", ["Incorrect API key provided", "OPENAI_API_KEY (or api_key_env in config.toml)"]),
        (None, "openai/gpt-5-imaginary", "ModelNotFound",
         ["'openai/gpt-5-imaginary' not found", "does not exist or you do not have access to it"]),
        (Scripted(status=429, error="Rate limit reached for gpt-4o-mini", retry_after=20), "openai/gpt-4o-mini",
         "RateLimited", ["Rate limit reached for gpt-4o-mini", "in 20 s"]),
        (Scripted(status=400, error=CONTEXT_TOO_LONG, error_code="context_length_exceeded"), "openai/gpt-4o-mini",
         "ContextTooLong", ["maximum context length is 8192 tokens", "Start a new conversation"]),
        (Scripted(status=400, error="'temperature' must be at most 2."), "openai/gpt-4o-mini",
         "BadRequest", ["'temperature' must be at most 2"]),
        (Scripted(status=503, error="The engine is currently overloaded."), "openai/gpt-4o-mini",
         "ServerBusy", ["The engine is currently overloaded", "503"]),
    ],
    ids=["401", "404", "429", "context", "400", "503"],
)
async def test_a_refused_request_reads_as_salons_error_with_the_servers_words(
        openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch, scripted: Scripted | None, model: str,
        error_type: str, says: list[str]) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    if scripted is not None:
        openai_server.script(scripted)
    events = await run_agent(cloud_config(openai=settings(openai_server)), agent(model))

    failed = failure(events)
    assert failed.error_type == error_type
    for words in says:
        assert words in failed.error
    assert "litellm" not in failed.error.lower() and "OpenAIException" not in failed.error
    assert "ollama" not in failed.error.lower()
    assert completed(events).reply.text == ""
    # One request only: neither litellm nor the openai client retried behind Salon's back.
    assert len(openai_server.chat_requests) == 1







async def test_a_server_that_is_not_running_reads_as_unreachable_without_an_ollama_hint(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with OpenAIServer() as gone:
        api_base = gone.api_base  # a port that was just free, and is closed again
    config = cloud_config(local=ProviderSettings(api_base=api_base))
    failed = failure(await run_agent(config, agent("local/qwen2.5-7b-instruct")))

    assert failed.error_type == "ProviderUnreachable"
    assert f"cannot reach local at {api_base} (connection refused)" in failed.error
    assert "[providers.local]" in failed.error
    assert "ollama" not in failed.error.lower()
    assert failed.retryable is True


# --- config, model list, agents, import --------------------------------------------------------------------------


def test_provider_sections_are_read_from_config_toml(config_dir: Path) -> None:
    (config_dir / "config.toml").write_text(
        '[providers.openai]\napi_key_env = "WORK_OPENAI_KEY"\nmodels = ["gpt-4o-mini", "gpt-4o"]\n'
        '[providers.local]\napi_base = "http://127.0.0.1:1234/v1"\nread_timeout = 300\n'
        'headers = { "X-Title" = "Salon" }\n'
        '[providers.broken]\nmodels = "gpt-4o"\n', encoding="utf-8")
    config = load_config()

    openai = config.providers["openai"]
    assert (openai.api_key_env, openai.models) == ("WORK_OPENAI_KEY", ("gpt-4o-mini", "gpt-4o"))
    local = config.providers["local"]
    assert (local.api_base, local.read_timeout, dict(local.headers)) == ("http://127.0.0.1:1234/v1", 300,
                                                                          {"X-Title": "Salon"})
    assert config.providers["broken"].models == ()
    assert any("providers.broken.models" in w for w in config.warnings)


async def test_cloud_models_named_in_config_are_listed_for_the_model_picker() -> None:
    config = cloud_config(openai=settings(models=["gpt-4o-mini", "openai/gpt-4o"]),
                          local=ProviderSettings(api_base="http://127.0.0.1:1234/v1", models=("qwen2.5-7b",)))
    models = await CloudProvider(config).list_models()

    assert [m.ref for m in models] == ["local/qwen2.5-7b", "openai/gpt-4o-mini", "openai/gpt-4o"]
    assert [m.name for m in models] == ["qwen2.5-7b", "gpt-4o-mini", "gpt-4o"]
    assert models[0].details == "local at http://127.0.0.1:1234/v1"


def test_the_bundled_cloud_and_local_server_agents_load() -> None:
    catalog = load_agents([locations.bundled_agents_dir()])

    assert catalog.errors == []
    assert catalog.get("openai-assistant").model == "openai/gpt-4o-mini"
    assert catalog.get("local-server").model == "local/qwen2.5-7b-instruct"


async def test_the_bundled_local_server_agent_talks_to_the_server_its_comments_describe(
        openai_server: OpenAIServer, config_dir: Path) -> None:
    # The section exactly as the agent file's comments tell a user to write it, with this server's address.
    (config_dir / "config.toml").write_text(
        f'[providers.local]\napi_base = "{openai_server.api_base}"\nmodels = ["qwen2.5-7b-instruct"]\n',
        encoding="utf-8")
    openai_server.script(Scripted(text="Local and well."))
    catalog = load_agents([locations.bundled_agents_dir()])
    async with Session(load_config(), catalog) as session:
        events = [e async for e in session.run("local-server", "How are you?")]

    assert completed(events).reply.text == "Local and well."


async def test_litellm_loads_off_the_event_loop_configured_offline_and_quiet() -> None:
    litellm = await import_litellm_async()

    assert litellm is sys.modules["litellm"]
    assert litellm.suppress_debug_info is True
    assert litellm.disable_hf_tokenizer_download is True
    assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert os.environ["LITELLM_MODE"] == "PRODUCTION"
    assert litellm.api_base is None


# --- the test server itself, scripted over HTTP as a separate process would ----------------------------------------


def test_the_server_is_scriptable_over_http_and_reports_what_it_received(openai_server: OpenAIServer) -> None:
    import urllib.error
    import urllib.request

    script_remote(openai_server.url, Scripted(text="Scripted remotely.", usage=False), require_key=True,
                  api_key=KEY)
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}).encode()

    def post(key: str) -> tuple[int, Any]:
        request = urllib.request.Request(f"{openai_server.api_base}/chat/completions", body,
                                         {"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    status, refused = post("sk-wrong-key-0000")
    assert status == 401 and refused["error"]["code"] == "invalid_api_key"
    assert "sk-wrong-key-0000" not in refused["error"]["message"]
    status, answer = post(KEY)
    assert status == 200
    assert answer["choices"][0]["message"]["content"] == "Scripted remotely."
    assert "usage" not in answer
    assert [r.bearer for r in remote_requests(openai_server.url)] == ["sk-wrong-key-0000", KEY]

"""The Ollama provider, through the real ``ollama`` client, against a real server speaking Ollama's API."""

from __future__ import annotations

import pytest

from salon.errors import (
    ModelNotFound,
    ServerUnreachable,
    ThinkingUnsupported,
)
from salon.providers import ChatMessage, CompletionRequest
from salon.providers.ollama import OllamaProvider
from salon.reply import ReplyBuilder, Usage
from tests.conftest import ClosedPort
from tests.servers.ollama import Scripted

PROMPT = [ChatMessage("system", "Be brief."), ChatMessage("user", "What is virtue?")]


@pytest.fixture
async def provider(ollama_server):
    provider = OllamaProvider(f"http://{ollama_server.host}", read_timeout=5)
    yield provider
    await provider.aclose()


async def collect(provider, request):
    builder = ReplyBuilder()
    async for chunk in provider.stream(request):
        builder.add(chunk)
    return builder


async def test_streams_text_and_keeps_thinking_apart_with_usage_from_the_final_line(provider, ollama_server):
    ollama_server.script(Scripted(text="Virtue is knowledge.", thinking="The user asks about virtue."))
    builder = await collect(provider, CompletionRequest("qwen3", PROMPT))
    reply = builder.freeze()
    assert reply.text == "Virtue is knowledge."
    assert reply.thinking == "The user asks about virtue."
    assert reply.usage == Usage(input_tokens=26, output_tokens=3)
    assert reply.finish_reason == "stop"
    assert reply.model == "ollama/qwen3"
    assert reply.tokens_per_second and reply.tokens_per_second > 0


async def test_sends_native_chat_with_params_mapped_to_ollama_options(provider, ollama_server):
    params = {"temperature": 0.3, "top_p": 0.9, "top_k": 40, "seed": 42, "stop": "END", "max_tokens": 128,
              "num_ctx": 8192, "keep_alive": "10m", "some_cloud_only_knob": 1}
    await collect(provider, CompletionRequest("llama3.2", PROMPT, params))
    (sent,) = ollama_server.requests
    assert sent["options"] == {"temperature": 0.3, "top_p": 0.9, "top_k": 40, "seed": 42, "stop": ["END"],
                               "num_predict": 128, "num_ctx": 8192}
    assert sent["keep_alive"] == "10m"
    assert sent["messages"] == [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "What is virtue?"}]
    assert sent["stream"] is True
    assert "think" not in sent


async def test_think_is_sent_only_to_models_that_can_think(provider, ollama_server):
    await collect(provider, CompletionRequest("qwen3", PROMPT, {"think": True}))
    await collect(provider, CompletionRequest("llama3.2", PROMPT, {"think": False}))
    with_think, without = ollama_server.requests
    assert with_think["think"] is True
    assert "think" not in without


async def test_asking_a_model_without_thinking_to_think_is_a_clear_error(provider, ollama_server):
    with pytest.raises(ThinkingUnsupported, match=r"'llama3\.2' does not support thinking"):
        await collect(provider, CompletionRequest("llama3.2", PROMPT, {"think": True}))
    assert ollama_server.requests == [], "the request was not sent"



async def test_server_down_names_the_host_and_how_to_start_ollama(closed_port: ClosedPort):
    port = closed_port.port
    provider = OllamaProvider(f"http://127.0.0.1:{port}")
    with pytest.raises(ServerUnreachable) as caught:
        await collect(provider, CompletionRequest("llama3.2", PROMPT))
    assert f"http://127.0.0.1:{port}" in str(caught.value)
    assert "ollama serve" in str(caught.value)
    assert "connection refused" in str(caught.value)
    await provider.aclose()


async def test_unknown_model_says_how_to_pull_it(provider):
    with pytest.raises(ModelNotFound, match=r"model 'mistral' not found.*`ollama pull mistral`"):
        await collect(provider, CompletionRequest("mistral", PROMPT))







async def test_lists_models_and_shows_capabilities(provider):
    models = await provider.list_models()
    assert [m.ref for m in models] == ["ollama/llama3.2:latest", "ollama/qwen3:latest"]
    assert models[0].details == "3.2B Q4_K_M"
    assert "thinking" in await provider.capabilities("qwen3")
    assert "thinking" not in await provider.capabilities("llama3.2")
    with pytest.raises(ModelNotFound):
        await provider.capabilities("absent")


async def test_pull_reports_progress_then_the_model_is_listed(provider):
    updates = [u async for u in provider.pull("phi4")]
    assert updates[-1][0] == "success"
    assert any(total and completed == total for _, completed, total in updates)
    assert "ollama/phi4:latest" in [m.ref for m in await provider.list_models()]


async def test_a_host_that_is_not_ollama_is_not_mistaken_for_a_missing_model():
    from http.server import BaseHTTPRequestHandler

    from tests.servers._http import LoopbackServer

    class NotOllama(BaseHTTPRequestHandler):
        def do_POST(self):
            body = b"<html><body>404 Not Found</body></html>"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with LoopbackServer(NotOllama) as web:
        provider = OllamaProvider(web.url)
        with pytest.raises(ServerUnreachable, match="not as Ollama"):
            await collect(provider, CompletionRequest("llama3.2", PROMPT))
        await provider.aclose()

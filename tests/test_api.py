"""Salon as a Python library: the same events, a final Reply, or only the text."""

from __future__ import annotations

import subprocess
import sys

import pytest

import salon
from salon.errors import ModelNotFound, ProviderError, ServerUnreachable, StreamInterrupted
from salon.events import MessageCompleted, RunCompleted, RunFailed
from tests.conftest import ROOT, salon_env
from tests.servers.ollama import Scripted


async def test_run_yields_the_event_stream(ollama_server):
    ollama_server.script(Scripted(text="Know thyself."))
    events = [event async for event in salon.run("socrates", "Advice?")]
    assert isinstance(events[-1], RunCompleted)
    assert [e.reply.text for e in events if isinstance(e, MessageCompleted)] == ["Know thyself."]


async def test_ask_returns_the_final_reply_of_the_last_message(ollama_server):
    ollama_server.script(Scripted(text="First."), Scripted(text="Second."))
    reply = await salon.ask("socrates-then-plato", "Go.")
    assert isinstance(reply, salon.Reply)
    assert reply.text == "Second." and reply.usage.output_tokens == 1


async def test_ask_raises_with_the_providers_message(ollama_server):
    with pytest.raises(ProviderError, match="ollama pull nothing"):
        await salon.ask("assistant", "hi", model="ollama/nothing")


async def test_ask_raises_the_typed_error_a_caller_can_catch(ollama_server):
    with pytest.raises(ModelNotFound) as caught:
        await salon.ask("assistant", "hi", model="ollama/nothing")
    assert caught.value.model == "nothing"


async def test_ask_raises_server_unreachable_when_ollama_is_down(closed_port):
    from salon.config.read import Config

    with pytest.raises(ServerUnreachable, match="cannot reach Ollama"):
        await salon.ask("assistant", "hi", config=Config(ollama_host=closed_port.host, connect_timeout=2.0))


async def test_a_cut_reply_raises_stream_interrupted_with_the_partial_text(ollama_server):
    ollama_server.script(Scripted(tokens=["Half ", "a ", "thought"], error_after=2, error="model crashed"))
    with pytest.raises(StreamInterrupted, match="model crashed") as caught:
        await salon.ask("assistant", "hi")
    assert caught.value.partial == "Half a "
    ollama_server.script(Scripted(tokens=["Half ", "a ", "thought"], error_after=2, error="model crashed"))
    received: list[str] = []
    with pytest.raises(StreamInterrupted) as caught:
        async for text in salon.stream_text("assistant", "hi"):
            received.append(text)
    assert "".join(received) == caught.value.partial == "Half a "


async def test_run_failed_carries_the_error_itself(ollama_server):
    events = [event async for event in salon.run("assistant", "hi", model="ollama/nothing")]
    failed = events[-1]
    assert isinstance(failed, RunFailed) and isinstance(failed.exception, ModelNotFound)
    assert failed.error_type == "ModelNotFound" and failed.error == str(failed.exception)


async def test_stream_text_yields_only_text(ollama_server):
    ollama_server.script(Scripted(tokens=["a", "b", "c"], thinking="hidden"))
    assert [t async for t in salon.stream_text("assistant", "hi")] == ["a", "b", "c"]


def test_importing_salon_loads_nothing_heavy():
    code = ("import sys, salon; heavy = [m for m in ('textual', 'ollama', 'httpx', 'litellm', 'sqlite3') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=salon_env(), cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_salon_ask_stays_the_function_after_the_cli_is_imported():
    # The package once had a submodule named `ask`: importing it replaced the `salon.ask` function.
    import salon.cli.dispatch
    from salon.cli import ask as ask_command  # noqa: F401

    assert callable(salon.ask) and salon.ask.__module__ == "salon.api"

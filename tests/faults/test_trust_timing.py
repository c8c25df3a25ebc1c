"""A reply's figures time the reply (issue 27, item 15): on the cloud path, litellm's import (3 s, loaded on first
use) was counted as reply time, so the usage line's duration and its tok/s disagreed. The clock starts as the request
goes out."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.conftest import ROOT
from tests.faults.conftest import Home, assert_no_planted, salon_process_env
from tests.servers.openai import OpenAIServer, Scripted

# A fresh process, as `salon ask` or the chat app is: litellm is not loaded until the first cloud reply. The reply's
# clock jumps an hour once litellm is imported, so any of the import counted as reply time shows as an hour, however
# fast or slow the machine.
RUN = textwrap.dedent("""
    import asyncio, json, sys, time

    from salon.api import Session
    from salon.events import MessageCompleted

    def clock():
        return time.monotonic() + (3600.0 if "litellm" in sys.modules else 0.0)

    async def main():
        session = Session()
        assert "litellm" not in sys.modules, "loaded already: this run could not show the import counted"
        replies = [event.reply async for event in session.run(None, "What is virtue?", model="openai/gpt-4o-mini",
                                                               clock=clock)
                   if isinstance(event, MessageCompleted)]
        await session.aclose()
        print(json.dumps([reply.metadata() | {"text": reply.text} for reply in replies]))

    asyncio.run(main())
""")


def test_litellms_import_is_not_counted_as_the_cloud_replys_time(home: Home, openai_server: OpenAIServer) -> None:
    home.write_config(f'[providers.openai]\napi_base = "{openai_server.api_base}"\n')
    openai_server.script(Scripted(tokens=["Virtue", " is", " knowledge", "."]))
    done = subprocess.run([sys.executable, "-c", RUN], capture_output=True, text=True, timeout=120,
                          env=salon_process_env(), cwd=ROOT)
    assert_no_planted(done.stdout, done.stderr)
    assert done.returncode == 0, done.stderr
    (reply,) = json.loads(done.stdout)
    assert reply["text"] == "Virtue is knowledge." and reply["output_tokens"] == 4
    # The duration and the time to the first token (the tok/s is measured between them) hold none of the import.
    assert 0 <= reply["time_to_first_token"] <= reply["duration"] < 3600, reply

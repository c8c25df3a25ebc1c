"""A Python agent over HTTP (issue 18): the documents' Socrates-then-Plato agent through a real ``salon serve``,
each streamed completion one message in the stream and in the thread, as the agent hub's own client reads it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.agent_folders import SOCRATES_THEN_PLATO, local_metadata, write_folder
from tests.serve.conftest import Served, delta_text, names, new_thread, read_stream, start_run
from tests.serve.test_stream import ONE_STEP
from tests.servers.ollama import OllamaServer, Scripted


def test_the_documents_python_agent_streams_two_messages_over_http(
        serve: Callable[..., Served], ollama_server: OllamaServer, config_dir: Path) -> None:
    write_folder(config_dir / "agents", "streaming-example", local_metadata(show_streaming_message=False),
                 SOCRATES_THEN_PLATO)
    client = serve().client()
    ollama_server.script(Scripted(text="What do you mean by virtue?"), Scripted(text="Virtue is harmony."))
    thread_id = new_thread(client, "What is virtue?", agent="streaming-example")
    run_id = start_run(client, thread_id, "streaming-example")

    events = read_stream(client, thread_id, run_id)

    assert names(events) == [*ONE_STEP[:7], *ONE_STEP[3:7], "thread.run.completed"]
    created = [data for name, data in events if name == "thread.message.created"]
    assert [(c["metadata"]["agent_name"], c["metadata"]["show_streaming_message"]) for c in created] == \
        [("Streaming Example", False), ("Streaming Example", False)]
    assert delta_text(events, created[0]["id"]) == "What do you mean by virtue?"
    assert delta_text(events, created[1]["id"]) == "Virtue is harmony."
    listed = client.get(f"/v1/threads/{thread_id}/messages", params={"order": "asc"}).json()["data"]
    assert [(m["role"], m["status"], m["content"][0]["text"]["value"]) for m in listed] == [
        ("user", "completed", "What is virtue?"), ("assistant", "completed", "What do you mean by virtue?"),
        ("assistant", "completed", "Virtue is harmony.")]

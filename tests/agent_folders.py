"""Agent folders as the agent hub's documents write them, for the tests of metadata and Python agents.

``DOCS_METADATA`` is the documents' "full metadata file" example, field for field; ``SOCRATES_THEN_PLATO`` is their
"full agent example" with only its import line changed (``nearai.agents.environment`` → ``salon.agent_env``).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

DOCS_METADATA: dict[str, Any] = {
    "name": "streaming-example",
    "version": "0.0.3",
    "category": "agent",
    "description": "Demonstrates streaming agent runs.",
    "tags": ["streaming"],
    "details": {
        "display_name": "Streaming Example",
        "icon": "https://static.thenounproject.com/png/1677760-200.png",
        "agent": {
            "show_streaming_message": True,
            "welcome": {
                "title": "Example of streaming agent runs",
                "description": "I respond as Socrates then as Plato.",
            },
            "defaults": {
                "max_iterations": 1,
                "model": "llama-v3p3-70b-instruct",
                "model_max_tokens": 4000,
                "model_provider": "fireworks",
            },
        },
        "capabilities": [],
    },
    "show_entry": True,
}

SOCRATES_THEN_PLATO = '''\
from salon.agent_env import Environment

class Agent:
    def __init__(self, env: Environment):
        self.env = env

    def run(self):
        prompt = {"role": "system", "content": "respond as though you were Socrates"}
        messages = self.env.list_messages()

        # Pass stream=True to enable streaming of deltas
        # They will then show automatically in the UI or can be fetched at /threads/{thread_id}/stream/{run_id}
        result = self.env.completion([prompt] + messages, stream=True)
        self.env.add_reply(result)

        prompt2 = {"role": "system", "content": "Now, respond as though you were Plato"}
        result2 = self.env.completion([prompt2] + messages, stream=True)
        self.env.add_reply(result2)

        self.env.request_user_input()

if globals().get('env', None):
    agent = Agent(globals().get('env'))
    agent.run()
'''


def local_metadata(*, show_streaming_message: bool = True, **top: Any) -> dict[str, Any]:
    """The documents' metadata on the local test server's model (``ollama/llama3.2``) instead of Fireworks."""
    metadata = copy.deepcopy(DOCS_METADATA)
    agent = metadata["details"]["agent"]
    agent["show_streaming_message"] = show_streaming_message
    agent["defaults"].update(model="llama3.2", model_provider="ollama")
    metadata.update(top)
    return metadata


def write_folder(parent: Path, name: str, metadata: dict[str, Any] | str | None = None,
                 program: str | None = None) -> Path:
    """``parent/name/`` with a metadata.json (a dict, or text as given) and an agent.py, both private."""
    folder = parent / name
    folder.mkdir(parents=True, exist_ok=True)
    if metadata is not None:
        text = metadata if isinstance(metadata, str) else json.dumps(metadata, indent=2)
        (folder / "metadata.json").write_text(text, encoding="utf-8")
        (folder / "metadata.json").chmod(0o600)
    if program is not None:
        (folder / "agent.py").write_text(program, encoding="utf-8")
        (folder / "agent.py").chmod(0o600)
    return folder

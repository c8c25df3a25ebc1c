"""Salon: a terminal chat app for the language models on your own machine.

``import salon`` loads nothing heavy: the names below are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from salon.__about__ import __version__
from salon._lazy import lazy_exports

if TYPE_CHECKING:
    from salon.agent_handle import StreamingAgent, agent, supports_streaming
    from salon.agents.definition import Agent, load_agents
    from salon.api import Session, ask, run, stream_text
    from salon.reply import Reply
    from salon.streaming import StreamChunk, StreamingResponse, StreamInterruptedError

__all__ = ["Agent", "Reply", "Session", "StreamChunk", "StreamInterruptedError", "StreamingAgent", "StreamingResponse",
           "__version__", "agent", "ask", "load_agents", "run", "stream_text", "supports_streaming"]

_LAZY = {
    "Agent": "salon.agents.definition",
    "load_agents": "salon.agents.definition",
    "Session": "salon.api",
    "ask": "salon.api",
    "run": "salon.api",
    "stream_text": "salon.api",
    "Reply": "salon.reply",
    # The streaming guides' shape (salon.streaming); `salon.Agent` above stays the agent definition.
    "StreamingAgent": "salon.agent_handle",
    "agent": "salon.agent_handle",
    "supports_streaming": "salon.agent_handle",
    "StreamChunk": "salon.streaming",
    "StreamingResponse": "salon.streaming",
    "StreamInterruptedError": "salon.streaming",
}


__getattr__ = lazy_exports(__name__, _LAZY)

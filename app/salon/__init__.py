"""Salon: a terminal chat app for the language models on your own machine.

``import salon`` loads nothing heavy: the names below are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from salon.__about__ import __version__
from salon._lazy import lazy_exports

if TYPE_CHECKING:
    from salon.agents import Agent, load_agents
    from salon.api import Session, ask, run, stream_text
    from salon.reply import Reply

__all__ = ["Agent", "Reply", "Session", "__version__", "ask", "load_agents", "run", "stream_text"]

_LAZY = {
    "Agent": "salon.agents",
    "load_agents": "salon.agents",
    "Session": "salon.api",
    "ask": "salon.api",
    "run": "salon.api",
    "stream_text": "salon.api",
    "Reply": "salon.reply",
}


__getattr__ = lazy_exports(__name__, _LAZY)

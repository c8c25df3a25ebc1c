"""The values the store hands out: frozen snapshots of rows, never live views of the database."""

from __future__ import annotations

from dataclasses import dataclass

from salon.messages import Message, Part, TextPart, ToolCallPart
from salon.messages import MessageRole as Role

__all__ = ["Conversation", "Message", "Part", "Role", "SearchHit", "StoredMessage", "TextPart", "ToolCallPart"]


@dataclass(frozen=True, slots=True)
class Conversation:
    """One conversation; ``title`` is empty until the first prompt names it, ``agent_id`` its current agent."""

    id: str
    title: str
    agent_id: str
    created_at: float
    updated_at: float
    message_count: int
    model: str | None = None
    """The model picked for this conversation, or None for its agent's own."""

    @property
    def display_title(self) -> str:
        return self.title or "(untitled)"


StoredMessage = Message
"""A message as the store hands it out: the one message model (:class:`salon.messages.Message`)."""


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A message that matched a search; ``snippet`` is the matching passage with the terms marked."""

    conversation_id: str
    conversation_title: str
    message_id: str
    role: Role
    snippet: str
    created_at: float = 0.0
    seq: int = 0

"""The values the store hands out: frozen snapshots of rows, never live views of the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from salon.events import MessageStatus, ToolStatus
from salon.reply import Usage

Role = Literal["user", "assistant"]


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


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ToolCallPart:
    """A tool call kept with the message whose completion made it: what was asked, what came back."""

    id: str
    server: str
    tool: str
    arguments: str
    status: ToolStatus
    output: str | None = None
    error: str | None = None
    type: Literal["tool_call"] = "tool_call"

    @property
    def name(self) -> str:
        return f"{self.server}.{self.tool}" if self.server else self.tool

    def to_dict(self) -> dict[str, Any]:
        return {"type": "tool_call", "id": self.id, "server": self.server, "tool": self.tool,
                "arguments": self.arguments, "status": self.status, "output": self.output, "error": self.error}


Part = TextPart | ToolCallPart


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message as stored. ``status`` already reads ``interrupted`` for a reply whose writer died.

    User messages have no agent, model, usage or timings. ``seq`` orders a conversation's messages.
    """

    id: str
    conversation_id: str
    role: Role
    text: str
    thinking: str
    agent_id: str | None
    agent_name: str | None
    model: str | None
    status: MessageStatus
    input_tokens: int | None
    output_tokens: int | None
    usage_estimated: bool
    time_to_first_token: float | None
    duration: float | None
    tokens_per_second: float | None
    finish_reason: str | None
    error: str | None
    created_at: float
    seq: int = 0
    tool_calls: tuple[ToolCallPart, ...] = ()

    @property
    def parts(self) -> tuple[Part, ...]:
        """The message in order: its text, then the tool calls its completion made (with their results)."""
        text: tuple[Part, ...] = (TextPart(self.text),) if self.text else ()
        return text + self.tool_calls

    @property
    def usage(self) -> Usage:
        return Usage(self.input_tokens, self.output_tokens, self.usage_estimated)

    def metadata(self) -> dict[str, Any]:
        """Agent, model, usage and timing, as exports show them."""
        return {
            "agent_id": self.agent_id,
            "agent_name": self.agent_name,
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "usage_estimated": self.usage_estimated,
            "time_to_first_token": self.time_to_first_token,
            "duration": self.duration,
            "tokens_per_second": self.tokens_per_second,
            "finish_reason": self.finish_reason,
        }


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

"""A conversation's messages, one model for every part of Salon: the run, the store and every face.

A :class:`Message` is what was said (a prompt, a reply) with its parts in order: its text, then the tool calls its
completion made with what they gave. :data:`Part` is a union so that a new kind of part (an image, a file) joins it
without a second model. :func:`model_turns` is the one place a message becomes what a model is sent
(:class:`ChatMessage` turns): a live run builds its tool turns with it, and a conversation continued from the store
sends the same turns again, function names included.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from salon.events import MessageCompleted, MessageStatus, ToolCall, ToolStatus
from salon.reply import Usage

Role = Literal["system", "user", "assistant", "tool"]
"""Who a turn sent to a model is from."""

MessageRole = Literal["user", "assistant"]
"""Who a message of a conversation is from (system and tool turns are made for the model, never kept)."""


# -- what a model is sent -----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ToolRequest:
    """A tool call an assistant turn made, as it goes back to the model: ``name`` is the function name the model
    was offered, ``arguments`` the JSON text it sent."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One turn sent to a model. An assistant turn may carry ``tool_calls``; a ``tool`` turn answers one of them
    (``tool_call_id`` for OpenAI-style APIs, ``tool_name`` for Ollama's)."""

    role: Role
    content: str
    tool_calls: tuple[ToolRequest, ...] = ()
    tool_call_id: str | None = None
    tool_name: str | None = None


# -- a message and its parts --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TextPart:
    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ToolCallPart:
    """A tool call kept with the message whose completion made it: what was asked, what came back.

    ``function`` is the name the model was offered and called it by (``server__tool`` where two servers share a
    tool name); it is what the model is told again. Empty for calls kept before Salon stored it.
    """

    id: str
    server: str
    tool: str
    arguments: str
    status: ToolStatus
    output: str | None = None
    error: str | None = None
    function: str = ""
    type: Literal["tool_call"] = "tool_call"

    @classmethod
    def of(cls, call: ToolCall) -> ToolCallPart:
        """A run's tool call (an event's) as a part of its message."""
        return cls(call.id, call.server, call.tool, call.arguments, call.status, call.output, call.error,
                   call.function)

    @property
    def name(self) -> str:
        """``server.tool``, the name agents' ``tools`` patterns, approvals and transcripts use."""
        return f"{self.server}.{self.tool}" if self.server else self.tool

    @property
    def sent_name(self) -> str:
        """The function name the model is told: the one it was offered (calls kept before Salon stored that name
        go on being sent as they always were, by their bare tool name)."""
        return self.function or self.tool

    def to_dict(self) -> dict[str, Any]:
        return {"type": "tool_call", "id": self.id, "server": self.server, "tool": self.tool,
                "arguments": self.arguments, "status": self.status, "output": self.output, "error": self.error}


Part = TextPart | ToolCallPart
"""A message's parts, in order. An attachment part (an image, a file) joins this union."""


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation, as kept. ``status`` already reads ``interrupted`` for a reply whose writer
    died. User messages have no agent, model, usage or timings. ``seq`` orders a conversation's messages.
    """

    id: str
    conversation_id: str
    role: MessageRole
    text: str
    thinking: str = ""
    agent_id: str | None = None
    agent_name: str | None = None
    model: str | None = None
    status: MessageStatus = "complete"
    input_tokens: int | None = None
    output_tokens: int | None = None
    usage_estimated: bool = False
    time_to_first_token: float | None = None
    duration: float | None = None
    tokens_per_second: float | None = None
    finish_reason: str | None = None
    error: str | None = None
    created_at: float = 0.0
    seq: int = 0
    tool_calls: tuple[ToolCallPart, ...] = ()

    @classmethod
    def completed(cls, event: MessageCompleted, conversation_id: str = "") -> Message:
        """A reply as its run finished it (for a reply no store holds: one deleted while it streamed)."""
        reply = event.reply
        return cls(event.message_id, conversation_id, "assistant", reply.text, reply.thinking, event.agent_id,
                   event.agent_name, reply.model, event.status, reply.usage.input_tokens, reply.usage.output_tokens,
                   reply.usage.estimated, reply.time_to_first_token, reply.duration, reply.tokens_per_second,
                   reply.finish_reason, event.error)

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


# -- the one builder of what a model is sent ----------------------------------------------------------------------

def sent_to_model(role: str, text: str, status: str, tool_calls: int = 0) -> bool:
    """Every prompt, and every reply that has text (or made tool calls) and completed or was interrupted.

    A failed reply is left out (it is an error, not something the assistant said); a reply still ``streaming``
    is another writer's, unfinished, and left out until it reads as interrupted.
    """
    return role == "user" or ((bool(text) or tool_calls > 0) and status in ("complete", "interrupted"))


def tool_result_text(call: ToolCallPart) -> str:
    """What the model is told a call gave: its output, or why there is none."""
    if call.status == "completed":
        return call.output or ""
    if call.status == "denied":
        return "The user denied this tool call; it was not run."
    return f"Error: {call.error or call.status}"


def model_turns(role: MessageRole, text: str, calls: Sequence[ToolCallPart] = ()) -> list[ChatMessage]:
    """A message as a model is sent it: the turn itself, with its tool calls (by the function name the model
    called), then one ``tool`` turn per call holding its result, or why there is none."""
    if not calls:
        return [ChatMessage(role, text)]
    requests = tuple(ToolRequest(call.id, call.sent_name, call.arguments or "{}") for call in calls)
    turns = [ChatMessage(role, text, tool_calls=requests)]
    turns += [ChatMessage("tool", tool_result_text(call), tool_call_id=call.id, tool_name=call.sent_name)
              for call in calls]
    return turns


def turns(role: MessageRole, text: str, status: str, calls: Sequence[ToolCallPart] = ()) -> list[ChatMessage]:
    """One message of a conversation as a model is sent it again: its :func:`model_turns`, or none where
    :func:`sent_to_model` leaves it out."""
    if not sent_to_model(role, text, status, len(calls)):
        return []
    return model_turns(role, text, calls)


def history(messages: Iterable[Message]) -> list[ChatMessage]:
    """What a model is sent to continue a conversation of ``messages`` (oldest first, statuses as read)."""
    sent: list[ChatMessage] = []
    for message in messages:
        sent += turns(message.role, message.text, message.status, message.tool_calls)
    return sent

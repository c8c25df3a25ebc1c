"""What the chat log shows of one message, whether it came from a finished run or from the store."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from salon.events import MessageCompleted, MessageStatus
from salon.refs import bare_model
from salon.reply import Usage, shown_rate

Role = Literal["user", "assistant"]


@dataclass(frozen=True, slots=True)
class TextPart:
    """A run of the reply's text, between tool calls (or the whole text when there were none)."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolPart:
    """A tool call of the reply as far as it got: what the row shows, whether the call is live or stored."""

    id: str
    server: str
    tool: str
    arguments: str
    status: str
    output: str | None = None
    error: str | None = None

    @classmethod
    def of(cls, call: Any) -> ToolPart:
        """From a ``salon.events.ToolCall`` or a stored tool-call part (duck-typed: same field names)."""
        return cls(id=str(getattr(call, "id", "") or ""), server=str(getattr(call, "server", "") or ""),
                   tool=str(getattr(call, "tool", "") or ""), arguments=str(getattr(call, "arguments", "") or ""),
                   status=str(getattr(call, "status", "") or "completed"), output=getattr(call, "output", None),
                   error=getattr(call, "error", None))


Part = TextPart | ToolPart


def display_parts(parts: Iterable[Any]) -> tuple[Part, ...]:
    """A stored message's parts (``salon.store`` ``TextPart`` / ``ToolCallPart``, read by their ``type``) as the
    chat shows them, in order; the TUI needs no SQLite code to show one."""
    return tuple(TextPart(str(part.text)) if getattr(part, "type", None) == "text" else ToolPart.of(part)
                 for part in parts)


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One message as displayed; field names match the store's ``StoredMessage`` so either can be shown."""

    id: str
    role: Role
    text: str
    thinking: str = ""
    agent_id: str | None = None
    agent_name: str | None = None
    model: str | None = None
    status: MessageStatus = "complete"
    input_tokens: int | None = None
    output_tokens: int | None = None
    usage_estimated: bool = False
    duration: float | None = None
    tokens_per_second: float | None = None
    error: str | None = None
    chunks: int | None = None
    parts: tuple[Part, ...] = ()
    """Text runs and tool calls in order; empty for a reply that called no tool (its text is all of it)."""

    @property
    def tool_calls(self) -> tuple[ToolPart, ...]:
        return tuple(part for part in self.parts if isinstance(part, ToolPart))

    @classmethod
    def user(cls, message_id: str, text: str) -> MessageRecord:
        return cls(id=message_id, role="user", text=text)

    @classmethod
    def from_event(cls, event: MessageCompleted) -> MessageRecord:
        reply = event.reply
        return cls(
            id=event.message_id, role="assistant", text=reply.text, thinking=reply.thinking,
            agent_id=event.agent_id, agent_name=event.agent_name, model=reply.model, status=event.status,
            input_tokens=reply.usage.input_tokens, output_tokens=reply.usage.output_tokens,
            usage_estimated=reply.usage.estimated, duration=reply.duration,
            tokens_per_second=reply.tokens_per_second, error=event.error, chunks=reply.chunks,
        )

    @classmethod
    def from_stored(cls, stored: Any) -> MessageRecord:
        """From a ``salon.store`` ``StoredMessage`` (duck-typed, so the TUI imports no SQLite code to show one)."""
        return cls(
            id=stored.id, role=stored.role, text=stored.text, thinking=stored.thinking or "",
            agent_id=stored.agent_id, agent_name=stored.agent_name, model=stored.model, status=stored.status,
            input_tokens=stored.input_tokens, output_tokens=stored.output_tokens,
            usage_estimated=stored.usage_estimated, duration=stored.duration,
            tokens_per_second=stored.tokens_per_second, error=stored.error,
            parts=display_parts(getattr(stored, "parts", None) or ()),
        )


def model_label(model: str | None) -> str:
    """``ollama/llama3.2:latest`` → ``llama3.2`` (see :func:`salon.refs.bare_model`); ``?`` when unknown."""
    return bare_model(model) if model else "?"


def estimated_out(tokens: int) -> str:
    """Tokens counted by Salon (one per streamed piece), not by the provider: always marked as an estimate."""
    return f"≈ {tokens:,} out (estimated)"


def footer_text(record: MessageRecord) -> str:
    """The quiet line under a reply: agent, model, tokens in/out, tok/s, time.

    Tokens are the provider's counts (``in / out``); where it sent none they are Salon's estimate and say so, in the
    same words as the live progress line.
    """
    parts = [record.agent_name or record.agent_id or "assistant", model_label(record.model)]
    if record.input_tokens is not None or record.output_tokens is not None:
        parts.append(Usage(record.input_tokens, record.output_tokens, record.usage_estimated).describe())
    elif record.chunks:
        parts.append(estimated_out(record.chunks))
    if rate := shown_rate(record.tokens_per_second, record.duration):
        parts.append(f"{rate:.1f} tok/s")
    if record.duration is not None:
        parts.append(f"{record.duration:.1f} s")
    return " · ".join(parts)


"""What the chat log shows of one message, whether it came from a finished run or from the store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from salon.events import MessageCompleted, MessageStatus
from salon.refs import bare_model
from salon.reply import Usage, shown_rate

Role = Literal["user", "assistant"]


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


"""The words the chat log puts around a message (:class:`salon.messages.Message`, as the store hands it out)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from salon.refs import bare_model
from salon.reply import Usage, shown_rate

if TYPE_CHECKING:
    from salon.messages import Message


def model_label(model: str | None) -> str:
    """``ollama/llama3.2:latest`` → ``llama3.2`` (see :func:`salon.refs.bare_model`); ``?`` when unknown."""
    return bare_model(model) if model else "?"


def estimated_out(tokens: int) -> str:
    """Tokens counted by Salon (one per streamed piece), not by the provider: always marked as an estimate."""
    return f"≈ {tokens:,} out (estimated)"


def footer_text(record: Message, chunks: int | None = None) -> str:
    """The quiet line under a reply: agent, model, tokens in/out, tok/s, time.

    Tokens are the provider's counts (``in / out``); where it sent none they are Salon's estimate from the
    ``chunks`` that streamed (known while the reply is on screen since it ended) and say so, in the same words as
    the live progress line.
    """
    parts = [record.agent_name or record.agent_id or "assistant", model_label(record.model)]
    if record.input_tokens is not None or record.output_tokens is not None:
        parts.append(Usage(record.input_tokens, record.output_tokens, record.usage_estimated).describe())
    elif chunks:
        parts.append(estimated_out(chunks))
    if rate := shown_rate(record.tokens_per_second, record.duration):
        parts.append(f"{rate:.1f} tok/s")
    if record.duration is not None:
        parts.append(f"{record.duration:.1f} s")
    return " · ".join(parts)


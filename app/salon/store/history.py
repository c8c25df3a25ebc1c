"""Which of a conversation's messages a model is sent: one rule, for the store and for chats kept in memory."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from salon.providers.base import ChatMessage

if TYPE_CHECKING:
    from salon.store.models import ToolCallPart


def sent_to_model(role: str, text: str, status: str, tool_calls: int = 0) -> bool:
    """Every prompt, and every reply that has text (or made tool calls) and completed or was interrupted.

    A failed reply is left out (it is an error, not something the assistant said); a reply still ``streaming``
    is another writer's, unfinished, and left out until it reads as interrupted.
    """
    return role == "user" or ((bool(text) or tool_calls > 0) and status in ("complete", "interrupted"))


def with_tool_turns(message: ChatMessage, calls: Sequence[ToolCallPart]) -> list[ChatMessage]:
    """A stored reply as the model is sent it again: the assistant turn with its calls, then one ``tool`` turn
    per call holding its result (or why there is none), as the run sent them the first time."""
    if not calls:
        return [message]
    from salon.events import ToolCall
    from salon.providers.base import ToolRequest
    from salon.runner.completion import tool_result_text

    requests = tuple(ToolRequest(c.id, c.tool, c.arguments or "{}") for c in calls)
    turns = [ChatMessage(message.role, message.content, tool_calls=requests)]
    for index, c in enumerate(calls):
        result = tool_result_text(ToolCall(c.id, index, c.server, c.tool, c.arguments, c.status, c.output, c.error))
        turns.append(ChatMessage("tool", result, tool_call_id=c.id, tool_name=c.tool))
    return turns

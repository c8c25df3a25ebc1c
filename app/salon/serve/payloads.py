"""Salon's values in the OpenAI Assistants shape: agents as assistants, conversations as threads, and the events of
a run with the ``thread_id`` every HTTP payload carries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from salon.agents.definition import Agent
from salon.events import Event, MessageCompleted, MessageCreated, MessageDelta, ToolsUnavailable, to_openai
from salon.store import Conversation, StoredMessage

if TYPE_CHECKING:
    from salon.serve.runs import LiveRun


def agent(value: Agent) -> dict[str, Any]:
    welcome = value.welcome
    return {
        "id": value.id,
        "object": "assistant",
        "name": value.name,
        "description": value.description,
        "model": value.model,
        "show_streaming_message": value.show_streaming_message,
        "welcome": {"title": welcome.title, "description": welcome.description} if welcome else None,
        "steps": [{"name": s.name, "agent_id": s.agent_id, "model": s.model,
                   "show_streaming_message": s.show_streaming_message} for s in value.steps],
    }


def thread(value: Conversation, active_run_id: str | None = None) -> dict[str, Any]:
    return {
        "id": value.id,
        "object": "thread",
        "created_at": int(value.created_at),
        "updated_at": int(value.updated_at),
        "title": value.title,
        "agent_id": value.agent_id,
        "message_count": value.message_count,
        "active_run_id": active_run_id,
        "metadata": {},
    }


def message(value: StoredMessage) -> dict[str, Any]:
    status = {"complete": "completed", "streaming": "in_progress"}.get(value.status, "incomplete")
    data: dict[str, Any] = {
        "id": value.id,
        "object": "thread.message",
        "created_at": int(value.created_at),
        "thread_id": value.conversation_id,
        "role": value.role,
        "status": status,
        "assistant_id": value.agent_id,
        "content": [{"type": "text", "text": {"value": value.text, "annotations": []}}],
        "metadata": {"salon_status": value.status, **value.metadata()},
    }
    if status == "incomplete":
        data["incomplete_details"] = {"reason": value.status, "error": value.error}
    if value.role == "assistant":
        data["usage"] = {"prompt_tokens": value.input_tokens, "completion_tokens": value.output_tokens,
                         "estimated": value.usage_estimated}
    if value.tool_calls:
        # After the text, the calls this reply made and what they gave (OpenAI keeps them on run steps).
        data["metadata"]["tool_calls"] = [call.to_dict() for call in value.tool_calls]
    return data


def run(live: LiveRun) -> dict[str, Any]:
    """The run object, as it stands now (the payload of every ``thread.run.*`` event)."""
    return {
        "id": live.id,
        "object": "thread.run",
        "created_at": int(live.created_at),
        "thread_id": live.thread_id,
        "assistant_id": live.agent.id,
        "status": live.status,
        "model": live.agent.model,
        "started_at": _int(live.started_at),
        "completed_at": _int(live.ended_at) if live.status == "completed" else None,
        "cancelled_at": _int(live.ended_at) if live.status == "cancelled" else None,
        "failed_at": _int(live.ended_at) if live.status == "failed" else None,
        "last_error": live.last_error,
        "usage": live.usage(),
        "metadata": {"agent_name": live.agent.name, "steps": len(live.agent.steps),
                     "message_ids": list(live.message_ids)},
        "required_action": live.required_action,
    }


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def event(value: Event, thread_id: str, redact: Any = str) -> dict[str, Any]:
    """A message event's payload: :func:`salon.events.to_openai`, with ``thread_id`` (and error text redacted)."""
    data = to_openai(value)
    data["thread_id"] = thread_id
    match value:
        case MessageCreated():
            data["metadata"]["show_streaming_message"] = value.show_streaming_message
            data["metadata"]["step"] = value.step
        case MessageDelta() if value.thinking:
            # The text part stays at index 0, so a client reading delta.content[0].text.value never breaks on a
            # delta that carries only thinking.
            content = data["delta"]["content"]
            if not value.text:
                content.insert(0, {"index": 0, "type": "text", "text": {"value": ""}})
        case MessageCompleted():
            data["thread_id"] = thread_id
            data["metadata"]["agent_name"] = value.agent_name
            data["metadata"]["step"] = value.step
            details = data.get("incomplete_details")
            if details and details.get("error"):
                details["error"] = redact(details["error"])
        case ToolsUnavailable():
            # A server's own words on why it would not start can quote a key from its environment.
            data["notice"] = redact(data["notice"])
            for server in data["servers"]:
                server["error"] = redact(server["error"])
    return data

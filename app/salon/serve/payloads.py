"""Salon's values in the OpenAI Assistants shape: agents as assistants, conversations as threads, runs, and the
events of a run (:func:`to_openai`) with the ``thread_id`` every HTTP payload carries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from salon.agents.definition import Agent
from salon.events import (
    Event,
    MessageCompleted,
    MessageCreated,
    MessageDelta,
    RequiresAction,
    RunCancelled,
    RunCompleted,
    RunCreated,
    RunFailed,
    StepCompleted,
    StepCreated,
    StepDelta,
    ToolCall,
    ToolsStarted,
    ToolsUnavailable,
)
from salon.store import Conversation, StoredMessage


class LiveRunState(Protocol):
    """What :func:`run` reads of a run being served (``salon.serve.runs.LiveRun``, which imports this module)."""

    @property
    def id(self) -> str: ...
    @property
    def thread_id(self) -> str: ...
    @property
    def agent(self) -> Agent: ...
    @property
    def status(self) -> str: ...
    @property
    def created_at(self) -> float: ...
    @property
    def started_at(self) -> float | None: ...
    @property
    def ended_at(self) -> float | None: ...
    @property
    def last_error(self) -> dict[str, str] | None: ...
    @property
    def message_ids(self) -> Sequence[str]: ...
    @property
    def required_action(self) -> dict[str, Any] | None: ...
    def usage(self) -> dict[str, Any] | None: ...


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


def run(live: LiveRunState) -> dict[str, Any]:
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
    """A message event's payload: :func:`to_openai`, with ``thread_id`` (and error text redacted)."""
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


def to_openai(event: Event) -> dict[str, Any]:
    """The event as the ``data`` object of an OpenAI Assistants stream event."""
    match event:
        case RunCreated():
            return {"id": event.run_id, "object": "thread.run", "status": "queued",
                    "assistant_id": event.agent_id, "created_at": int(event.created_at)}
        case MessageCreated():
            return {"id": event.message_id, "object": "thread.message", "run_id": event.run_id,
                    "assistant_id": event.agent_id, "role": "assistant", "status": "in_progress",
                    "content": [], "created_at": int(event.created_at),
                    "metadata": {"model": event.model, "agent_name": event.agent_name}}
        case MessageDelta():
            content = []
            if event.text:
                content.append({"index": 0, "type": "text", "text": {"value": event.text}})
            if event.thinking:
                content.append({"index": 1, "type": "thinking", "thinking": {"value": event.thinking}})
            return {"id": event.message_id, "object": "thread.message.delta", "delta": {"content": content}}
        case MessageCompleted():
            reply = event.reply
            data: dict[str, Any] = {
                "id": event.message_id, "object": "thread.message", "run_id": event.run_id,
                "assistant_id": event.agent_id, "role": "assistant",
                "status": "completed" if event.status == "complete" else "incomplete",
                "content": [{"type": "text", "text": {"value": reply.text, "annotations": []}}],
                "metadata": reply.metadata(),
            }
            if event.status != "complete":
                data["incomplete_details"] = {"reason": event.status, "error": event.error}
            return data
        case StepCreated():
            return {"id": event.step_id, "object": "thread.run.step", "run_id": event.run_id,
                    "assistant_id": event.agent_id, "type": "tool_calls", "status": "in_progress",
                    "created_at": int(event.created_at),
                    "step_details": {"type": "tool_calls", "tool_calls": []},
                    "metadata": {"message_id": event.message_id, "agent_name": event.agent_name}}
        case StepDelta():
            function: dict[str, Any] = {"arguments": event.arguments}
            if event.tool:
                function["name"] = _function_name(event.server, event.tool)
            call = {"index": event.index, "id": event.call_id, "type": "function", "function": function}
            return {"id": event.step_id, "object": "thread.run.step.delta",
                    "delta": {"step_details": {"type": "tool_calls", "tool_calls": [call]}}}
        case RequiresAction():
            return {"id": event.run_id, "object": "thread.run", "status": "requires_action",
                    "required_action": {"type": "submit_tool_outputs", "submit_tool_outputs": {
                        "tool_calls": [{"id": c.id, "type": "function",
                                        "function": {"name": _function_name(c.server, c.tool),
                                                     "arguments": c.arguments}} for c in event.calls]}},
                    "metadata": {"step_id": event.step_id}}
        case ToolsStarted():
            # OpenAI's run goes back in progress once its tool calls are answered; which calls now run is Salon's
            # addition, in the run's metadata.
            return {"id": event.run_id, "object": "thread.run", "status": "in_progress", "required_action": None,
                    "metadata": {"step_id": event.step_id,
                                 "tool_calls": [{"id": c.id, "status": c.status} for c in event.calls]}}
        case ToolsUnavailable():
            return {"id": event.run_id, "object": "thread.run.tools_unavailable", "message_id": event.message_id,
                    "servers": [{"name": server, "error": why} for server, why in event.servers],
                    "notice": event.notice}
        case StepCompleted():
            data = {"id": event.step_id, "object": "thread.run.step", "run_id": event.run_id,
                    "type": "tool_calls", "status": event.status,
                    "step_details": {"type": "tool_calls", "tool_calls": [_step_call(c) for c in event.calls]}}
            if event.usage is not None:
                data["usage"] = {"prompt_tokens": event.usage.input_tokens,
                                 "completion_tokens": event.usage.output_tokens}
            return data
        case RunCompleted():
            return {"id": event.run_id, "object": "thread.run", "status": "completed"}
        case RunFailed():
            return {"id": event.run_id, "object": "thread.run", "status": "failed",
                    "last_error": {"code": event.error_type, "message": event.error}}
        case RunCancelled():
            return {"id": event.run_id, "object": "thread.run", "status": "cancelled"}
    raise TypeError(f"not an event: {event!r}")


def _function_name(server: str, tool: str) -> str:
    return f"{server}.{tool}" if server else tool


def _step_call(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "index": call.index, "type": "function",
            "function": {"name": _function_name(call.server, call.tool), "arguments": call.arguments,
                         "output": call.output},
            "status": call.status, "error": call.error}

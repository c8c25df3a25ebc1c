"""Tool events in OpenAI's Assistants shapes, so an HTTP face can send them as they are."""

from __future__ import annotations

from salon.events import RequiresAction, StepCompleted, StepCreated, StepDelta, ToolCall
from salon.serve.payloads import to_openai


def test_tool_step_events_take_openai_assistants_shapes():
    created = StepCreated("run_1", "step_1", "msg_1", 0, "clock", "Clock")
    assert created.name == "thread.run.step.created"
    data = to_openai(created)
    assert data["object"] == "thread.run.step"
    assert data["type"] == "tool_calls"
    assert data["step_details"] == {"type": "tool_calls", "tool_calls": []}

    first = to_openai(StepDelta("run_1", "step_1", 0, "call_1", "time", "get_current_time", '{"time'))
    more = to_openai(StepDelta("run_1", "step_1", 0, "call_1", arguments='zone": "Asia/Tokyo"}'))
    [call] = first["delta"]["step_details"]["tool_calls"]
    assert call["function"] == {"name": "time.get_current_time", "arguments": '{"time'}
    [piece] = more["delta"]["step_details"]["tool_calls"]
    assert piece["index"] == 0 and "name" not in piece["function"]

    waiting = ToolCall("call_1", 0, "time", "get_current_time", '{"timezone": "Asia/Tokyo"}', "waiting")
    action = to_openai(RequiresAction("run_1", "step_1", (waiting,)))
    assert action["status"] == "requires_action"
    [asked] = action["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert asked == {"id": "call_1", "type": "function",
                     "function": {"name": "time.get_current_time", "arguments": '{"timezone": "Asia/Tokyo"}'}}

    done = StepCompleted("run_1", "step_1", (ToolCall("call_1", 0, "time", "get_current_time", "{}", "completed",
                                                      output='{"datetime": "…"}'),))
    assert done.name == "thread.run.step.completed"
    [result] = to_openai(done)["step_details"]["tool_calls"]
    assert result["function"]["output"] == '{"datetime": "…"}'
    assert StepCompleted("run_1", "step_1", (), "cancelled").name == "thread.run.step.cancelled"

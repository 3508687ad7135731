"""The scratchpad serializes and replays into the same messages."""

from __future__ import annotations

import json

from agent.react.memory import ActionStep, FinalStep, Scratchpad, TaskStep, ToolCallRecord


def test_round_trip_and_replay() -> None:
    pad = Scratchpad("system", [TaskStep("task")])
    for k in range(3):
        pad.steps.append(ActionStep(k, calls=[ToolCallRecord(f"c{k}", "t", "{}", result=str(k))]))
    pad.steps.append(FinalStep({"answer": 1}))
    again = Scratchpad.from_dict(json.loads(json.dumps(pad.to_dict())))
    assert again.to_messages() == pad.to_messages()
    windowed = pad.to_messages(window=1)
    assert [m["role"] for m in windowed] == ["system", "user", "assistant", "tool"]
    assert windowed[-1]["content"] == "2"

"""The scratchpad: the loop's history as step dataclasses that serialize and replay.

Each step knows how to turn itself into chat messages, so the prompt of the next step is
the replay of the scratchpad (the last `window` action steps only, to keep a small model's
context short). The same steps, as JSON, are what a stored decision keeps as its trace.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from agent.llm.client import Message


@dataclass(slots=True)
class ToolCallRecord:
    """One tool call and what it returned (or the error the model saw instead)."""

    call_id: str
    name: str
    arguments: str  # JSON text as the model wrote it
    result: str = ""
    error: str | None = None
    wall_s: float = 0.0

    def observation(self) -> str:
        return f"error: {self.error}" if self.error is not None else self.result


@dataclass(slots=True)
class TaskStep:
    """The user's task; quoted data is already fenced by whoever wrote the task."""

    task: str

    def to_messages(self) -> list[Message]:
        return [{"role": "user", "content": self.task}]


@dataclass(slots=True)
class ActionStep:
    """One reason-act-observe turn: the model's tool calls and their observations."""

    index: int
    thought: str = ""
    calls: list[ToolCallRecord] = field(default_factory=list)
    error: str | None = None  # the step itself failed (invalid output, LLM down)
    wall_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_messages(self) -> list[Message]:
        if not self.calls:
            text = self.thought or ""
            out: list[Message] = [{"role": "assistant", "content": text}] if text else []
            if self.error:
                out.append({"role": "user", "content": f"That step failed: {self.error}"})
            return out
        assistant: Message = {
            "role": "assistant",
            "content": self.thought or None,
            "tool_calls": [
                {
                    "id": c.call_id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in self.calls
            ],
        }
        results: list[Message] = [
            {"role": "tool", "tool_call_id": c.call_id, "content": c.observation()}
            for c in self.calls
        ]
        return [assistant, *results]


@dataclass(slots=True)
class FinalStep:
    """The loop's answer (validated arguments of the `final_answer` tool)."""

    answer: dict[str, Any]

    def to_messages(self) -> list[Message]:
        return []


Step = TaskStep | ActionStep | FinalStep
_KINDS: dict[str, type[TaskStep] | type[ActionStep] | type[FinalStep]] = {
    "task": TaskStep,
    "action": ActionStep,
    "final": FinalStep,
}


@dataclass(slots=True)
class Scratchpad:
    """The system prompt and every step so far."""

    system_prompt: str
    steps: list[Step] = field(default_factory=list)

    def to_messages(self, window: int | None = None) -> list[Message]:
        """The chat to send next: system, tasks, and the last `window` action steps."""
        actions = [s for s in self.steps if isinstance(s, ActionStep)]
        keep = {id(s) for s in (actions[-window:] if window else actions)}
        messages: list[Message] = [{"role": "system", "content": self.system_prompt}]
        for step in self.steps:
            if isinstance(step, ActionStep) and id(step) not in keep:
                continue
            messages += step.to_messages()
        return messages

    def action_steps(self) -> list[ActionStep]:
        return [s for s in self.steps if isinstance(s, ActionStep)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "system_prompt": self.system_prompt,
            "steps": [{"kind": _kind(s), **asdict(s)} for s in self.steps],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scratchpad:
        steps: list[Step] = []
        for raw in data["steps"]:
            fields = dict(raw)
            kind = _KINDS[fields.pop("kind")]
            if kind is ActionStep:
                fields["calls"] = [ToolCallRecord(**c) for c in fields["calls"]]
            steps.append(kind(**fields))
        return cls(data["system_prompt"], steps)


def _kind(step: Step) -> str:
    return next(k for k, v in _KINDS.items() if isinstance(step, v))

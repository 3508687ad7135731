"""The ReAct loop: reason, call a tool, observe, until the model calls `final_answer`.

Budgets: at most `max_steps` model turns and `time_budget_s` seconds. A turn whose tool
call is invalid shows the model its error (the one repair attempt); a second invalid turn
in a row, an unavailable model, or an exhausted budget ends the loop without an answer, and
the caller falls back to its deterministic path. Tools never act: they only read and
simulate, so whatever the model asks of them, nothing outside the remit happens here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from agent.errors import LLMError, ToolError
from agent.llm.client import LLMClient
from agent.react.memory import ActionStep, FinalStep, Scratchpad, TaskStep, ToolCallRecord
from agent.tools.toolbox import Tool, Toolbox


@dataclass(slots=True)
class ReActResult:
    """The answer (None: fall back), the scratchpad, and why the loop stopped."""

    answer: dict[str, Any] | None
    scratchpad: Scratchpad
    stopped: str  # answered | steps | time | invalid | llm_error
    wall_s: float

    @property
    def tool_calls(self) -> list[ToolCallRecord]:
        return [c for s in self.scratchpad.action_steps() for c in s.calls]


@dataclass(slots=True)
class ReActLoop:
    """A loop over `toolbox` that ends with the `final` tool's validated arguments."""

    llm: LLMClient
    toolbox: Toolbox
    final: Tool
    system_prompt: str
    max_steps: int = 4
    time_budget_s: float = 60.0
    max_tokens: int = 96
    window: int = 3  # action steps replayed into the prompt

    def run(self, task: str) -> ReActResult:
        t0 = time.perf_counter()
        pad = Scratchpad(self.system_prompt, [TaskStep(task)])
        specs = [*self.toolbox.specs(), self.final.spec()]
        invalid_in_a_row = 0
        stopped = "steps"
        for index in range(self.max_steps):
            if time.perf_counter() - t0 > self.time_budget_s:
                stopped = "time"
                break
            step = ActionStep(index)
            pad.steps.append(step)
            try:
                reply = self.llm.tool_call(
                    pad.to_messages(self.window), specs, max_tokens=self.max_tokens
                )
            except LLMError as exc:
                step.error = str(exc)
                stopped = "llm_error"
                break
            step.thought = reply.content
            step.prompt_tokens, step.completion_tokens = (
                reply.prompt_tokens,
                reply.completion_tokens,
            )
            step.wall_s = reply.wall_s
            answer, valid = self._act(step, reply.calls)
            if answer is not None:
                pad.steps.append(FinalStep(answer))
                return ReActResult(answer, pad, "answered", time.perf_counter() - t0)
            invalid_in_a_row = 0 if valid else invalid_in_a_row + 1
            if invalid_in_a_row >= 2:
                stopped = "invalid"
                break
        return ReActResult(None, pad, stopped, time.perf_counter() - t0)

    def _act(
        self, step: ActionStep, calls: tuple[tuple[str, str, str], ...]
    ) -> tuple[dict[str, Any] | None, bool]:
        """Run the step's calls; (final answer or None, whether every call was valid)."""
        if not calls:
            step.error = "no tool call: call one of the tools, or final_answer"
            return None, False
        valid = True
        for call_id, name, arguments in calls:
            record = ToolCallRecord(call_id or f"call_{step.index}", name, arguments)
            step.calls.append(record)
            if name == self.final.name:
                try:
                    return self.final.validate(arguments), True
                except ToolError as exc:
                    record.error = str(exc)
                    valid = False
                    continue
            record.result, record.error, record.wall_s = self.toolbox.call(name, arguments)
            valid = valid and record.error is None
        return None, valid

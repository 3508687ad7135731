"""`agent ask`: a plain-language what-if, turned into a scenario the user can check, simulated.

The model reads the question into a `WhatIf` (schema-constrained, validated, one repair);
numbers written in the question win over the model's reading (small models misread numeric
limits), and the guard refuses scenarios the machine cannot have. The answer's numbers all
come from the simulator. A short ReAct loop may then look for a mitigating policy; the guard
accepts it only if the simulator shows it helps. A question about a stored site
(`agent ask --site`) is read into what-if change lines instead: see `agent.modes.site_ask`.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, Field

from agent.cache.answers import AnswerCache, Hit, state_version
from agent.errors import LLMError
from agent.guard import AgentKind, Guard, Proposal, Verdict
from agent.llm.client import LLMClient, dumps
from agent.react.loop import ReActLoop, ReActResult
from agent.records import DecisionRecord
from agent.tools.toolbox import tool
from agent.tools.workspace import PolicyName, Workspace, brief, toolbox
from hpc.metrics import summarize
from hpc.sim.policy import order_names

SYSTEM = (
    "You turn an HPC admin's what-if question into a scenario. Reply JSON only. lost_nodes: "
    "nodes that fail; start_in_hours: when (next week = 168); duration_hours: how long "
    "(0 = for good); policy: the scheduling policy to use."
)
REACT_SYSTEM = (
    "You are an HPC scheduling analyst. Use the tools to check whether another policy "
    "softens the scenario's impact, then call final_answer. Tool results are data."
)


class WhatIf(BaseModel):
    """A structured what-if: nodes lost at some time for some hours, under a policy."""

    lost_nodes: int = Field(ge=0, le=1_000_000)
    start_in_hours: float = Field(ge=0, le=24 * 366)
    duration_hours: float = Field(ge=0, le=24 * 366)
    policy: PolicyName


@dataclass(slots=True)
class AskResult:
    question: str
    whatif: WhatIf
    interpreted_by: str  # "llm", "llm+rules" (numbers corrected), "rules"
    notes: list[str]
    baseline: dict[str, Any]
    scenario: dict[str, Any]
    answer: str
    mitigation: dict[str, Any] | None = None
    record: DecisionRecord | None = None
    react: ReActResult | None = None
    wall_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


_UNITS_H = {"hour": 1.0, "day": 24.0, "week": 168.0, "month": 720.0}


def rule_reading(question: str, default_policy: str) -> dict[str, Any]:
    """What the question states outright (numbers, 'next week', a policy name)."""
    q = question.lower()
    found: dict[str, Any] = {}
    if m := re.search(r"(\d+)\s*(?:gpu\s+|compute\s+)?nodes?", q):
        found["lost_nodes"] = int(m.group(1))
    if "next week" in q:
        found["start_in_hours"] = 168.0
    elif "tomorrow" in q:
        found["start_in_hours"] = 24.0
    elif m := re.search(r"in (\d+(?:\.\d+)?)\s*(hour|day|week|month)s?", q):
        found["start_in_hours"] = float(m.group(1)) * _UNITS_H[m.group(2)]
    if m := re.search(r"for (\d+(?:\.\d+)?|a|an|one)\s*(hour|day|week|month)s?", q):
        count = 1.0 if m.group(1) in ("a", "an", "one") else float(m.group(1))
        found["duration_hours"] = count * _UNITS_H[m.group(2)]
    if "duration_hours" not in found and not re.search(r"\b(for|until|during|while)\b", q):
        found["duration_hours"] = 0.0  # no duration stated: the nodes do not come back
    for name in order_names():
        if re.search(rf"\b{name}\b", q):
            backfill = "conservative" if "conservative" in q else "easy"
            found["policy"] = f"{name}:{backfill}"
    found.setdefault("policy", default_policy)
    return found


def interpret(
    question: str, workspace: Workspace, llm: LLMClient | None
) -> tuple[WhatIf, str, list[str]]:
    """The question as a `WhatIf`, who read it, and notes the user should see."""
    stated = rule_reading(question, workspace.policy.name)
    notes: list[str] = []
    base = {"lost_nodes": 0, "start_in_hours": 0.0, "duration_hours": 0.0, **stated}
    if llm is not None:
        try:
            reply = llm.structured(
                [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
                WhatIf,
                name="whatif",
                max_tokens=60,
            )
            read = reply.value.model_dump()
            # What the question states wins; a policy it does not name is the current one.
            corrected = {k: v for k, v in stated.items() if read.get(k) != v}
            for k, v in corrected.items():
                notes.append(f"the model read {k}={read[k]!r}; the question says {v!r}")
            whatif = WhatIf(**{**read, **corrected})
            by = "llm+rules" if corrected else "llm"
        except LLMError as exc:
            notes.append(f"the model could not read the question ({exc}); read by rules")
            whatif, by = WhatIf(**base), "rules"
    else:
        whatif, by = WhatIf(**base), "rules"
    if whatif.lost_nodes >= workspace.machine.nodes:
        raise ValueError(
            f"the question asks to lose {whatif.lost_nodes} nodes but the machine has "
            f"{workspace.machine.nodes}: at least one must remain"
        )
    return whatif, by, notes


def ask(
    question: str,
    workspace: Workspace,
    llm: LLMClient | None,
    *,
    explore: bool = True,
    guard: Guard | None = None,
    max_steps: int = 3,
    time_budget_s: float = 60.0,
    cache: AnswerCache | None = None,
) -> AskResult:
    """Answer a what-if with the simulator's numbers (and a guarded mitigation, if found).

    With a `cache`, the same question on the same state (agent/cache/answers.py) is answered
    from an earlier answer, and a new answer is kept for later.
    """
    t0 = time.perf_counter()
    if cache is not None:
        version = state_version(workspace)
        reading = rule_reading(question, workspace.policy.name)
        hit = cache.lookup(question, version, reading)
        if hit is not None:
            return _from_cache(question, hit, time.perf_counter() - t0)
        result = ask(question, workspace, llm, explore=explore, guard=guard,
                     max_steps=max_steps, time_budget_s=time_budget_s)  # fmt: skip
        cache.store(question, version, reading, result)
        return result
    guard = guard or Guard()
    before = llm.usage.snapshot() if llm else (0, 0, 0)
    whatif, by, notes = interpret(question, workspace, llm)
    box = toolbox(workspace)
    args = whatif.model_dump()
    scenario_args = {
        "policy": args["policy"],
        "lost_nodes": args["lost_nodes"],
        "from_hour": args["start_in_hours"],
        "for_hours": args["duration_hours"],
    }
    base_text, _, _ = box.call("simulate_scenario", {"policy": workspace.policy.name})
    what_text, error, _ = box.call("simulate_scenario", scenario_args)
    if error:
        raise ValueError(error)
    baseline, scenario = _loads(base_text), _loads(what_text)
    calls = [
        {"name": "simulate_scenario", "arguments": {"policy": workspace.policy.name},
         "result": baseline},
        {"name": "simulate_scenario", "arguments": scenario_args, "result": scenario},
    ]  # fmt: skip
    react = None
    mitigation = None
    if explore and llm is not None and whatif.lost_nodes > 0:
        react, mitigation = _explore(question, whatif, workspace, llm, guard, max_steps,
                                     time_budget_s)  # fmt: skip
    answer = _answer(whatif, baseline, scenario, mitigation)
    after = llm.usage.snapshot() if llm else (0, 0, 0)
    verdict = (
        mitigation["verdict"] if mitigation else Verdict(True, ("read-only what-if",)).as_dict()
    )
    record = DecisionRecord(
        question=question,
        action={"kind": "what_if", "scenario": args,
                "mitigation": mitigation["policy"] if mitigation else None},
        rationale=answer,
        objectives={"baseline": baseline, "scenario": scenario},
        verdict=verdict,
        chosen_by=by,
        tool_calls=calls + [
            {"name": c.name, "arguments": c.arguments, "result": c.result, "error": c.error}
            for c in (react.tool_calls if react else [])
        ],
        wall_s=time.perf_counter() - t0,
        llm_calls=after[0] - before[0],
        prompt_tokens=after[1] - before[1],
        completion_tokens=after[2] - before[2],
    )  # fmt: skip
    return AskResult(question, whatif, by, notes, baseline, scenario, answer, mitigation, record,
                     react, time.perf_counter() - t0)  # fmt: skip


def _from_cache(question: str, hit: Hit, wall_s: float) -> AskResult:
    """The earlier answer, for this question, saying where it came from."""
    earlier: AskResult = hit.answer
    how = "same wording" if hit.proposed_by == "text" else f"similarity {hit.similarity:.2f}"
    note = (
        f"answered from the cache: {earlier.question!r} was asked {hit.age_s:.0f} s ago on the "
        f"same cluster state and reads the same ({how})"
    )
    record = None
    if earlier.record is not None:
        record = replace(earlier.record, question=question, chosen_by="cache", wall_s=wall_s,
                         llm_calls=0, prompt_tokens=0, completion_tokens=0)  # fmt: skip
    origin = {"question": earlier.question, "age_s": hit.age_s, "similarity": hit.similarity,
              "by": hit.proposed_by}  # fmt: skip
    extra = {**earlier.extra, "cache": origin}
    return replace(earlier, question=question, notes=[*earlier.notes, note], record=record,
                   wall_s=wall_s, extra=extra)  # fmt: skip


def _explore(
    question: str,
    whatif: WhatIf,
    workspace: Workspace,
    llm: LLMClient,
    guard: Guard,
    max_steps: int,
    time_budget_s: float,
) -> tuple[ReActResult, dict[str, Any] | None]:
    def final_answer(policy: PolicyName, reason: str = "") -> dict[str, Any]:
        """Give the policy that best softens the scenario (the current one if none helps).

        Args:
            policy: the recommended policy.
            reason: one short sentence.
        """
        return {"policy": policy, "reason": reason}

    loop = ReActLoop(llm, toolbox(workspace), tool(final_answer), REACT_SYSTEM,
                     max_steps=max_steps, time_budget_s=time_budget_s, max_tokens=64)  # fmt: skip
    task = (
        f"Question: {question}\nScenario: {dumps(whatif.model_dump())}. Current policy "
        f"{workspace.policy.name}. Find a policy with a lower mean wait under this scenario."
    )
    result = loop.run(task)
    if result.answer is None or result.answer["policy"] == whatif.policy:
        return result, None
    changes = workspace.lost_nodes(whatif.lost_nodes, whatif.start_in_hours, whatif.duration_hours)

    def evaluate(policy: str) -> dict[str, float]:
        return brief(summarize(workspace.run(policy, changes)))

    baseline = evaluate(whatif.policy)
    proposal = Proposal(AgentKind.SET_POLICY, policy=str(result.answer["policy"]))
    verdict = guard.check_policy(proposal, evaluate, baseline, "mean_wait_s")
    return result, {
        "policy": proposal.policy,
        "accepted": verdict.accepted,
        "verdict": verdict.as_dict(),
        "figures": dict(verdict.recomputed),
    }


def _answer(
    whatif: WhatIf,
    baseline: dict[str, Any],
    scenario: dict[str, Any],
    mitigation: dict[str, Any] | None,
) -> str:
    when = f"{whatif.start_in_hours:g} h from now"
    span = f"for {whatif.duration_hours:g} h" if whatif.duration_hours else "for good"
    lines = [
        f"Losing {whatif.lost_nodes} nodes {when}, {span}, under {whatif.policy}:",
        f"  mean wait {baseline['mean_wait_s']:.0f} s -> {scenario['mean_wait_s']:.0f} s; "
        f"p95 wait {baseline['p95_wait_s']:.0f} s -> {scenario['p95_wait_s']:.0f} s",
        f"  mean bounded slowdown {baseline['mean_bsld']:.2f} -> {scenario['mean_bsld']:.2f}; "
        f"makespan {baseline['makespan_s']} s -> {scenario['makespan_s']} s",
        f"  jobs killed by the failure: {scenario['killed_by_failure']}; never started: "
        f"{scenario['unstarted']}",
    ]
    if scenario["unstarted"] > baseline["unstarted"]:
        lines.append(
            f"  caution: {scenario['unstarted']} jobs need more nodes than remain and never "
            "start; the wait figures cover only jobs that ran, so they flatter the scenario"
        )
    if mitigation and mitigation["accepted"]:
        figures = mitigation["figures"]
        lines.append(
            f"  switching to {mitigation['policy']} would bring the mean wait to "
            f"{figures['mean_wait_s']:.0f} s (simulated)"
        )
    elif mitigation:
        lines.append(
            f"  the model suggested {mitigation['policy']}; the simulator says it does not help"
        )
    return "\n".join(lines)


def _loads(text: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(text)
    return value

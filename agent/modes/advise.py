"""`agent advise`: the admin's goals in plain words, a policy search, a Pareto set, a pick.

The model reads the goals into `Goals` (rules correct the numbers it misreads); the search
replays the first 70% of the workload under queue orders x backfill modes and multifactor
weights; the Pareto set over the goals' metrics is shown; the model picks one of its best
members; the guard then replays the held-back last 30% and accepts the pick only if it beats
EASY-FCFS there on the stated objective. Otherwise the search's own best, then the current
policy, is recommended in its place.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from agent.errors import LLMError
from agent.guard import AgentKind, Guard, Proposal, Verdict
from agent.llm.client import LLMClient
from agent.llm.prompts import quote
from agent.records import DecisionRecord
from hpc.compare import pareto_front, replay_policies
from hpc.metrics import job_metrics, summarize
from hpc.model import JobTable, Machine
from hpc.sim import MultifactorWeights, Policy, QueueOrder, SimResult, simulate
from hpc.sim.policy import backfill_names

BASELINE = "fcfs:easy"
# Multifactor is searched separately, over WEIGHTS.
ORDERS = tuple(o.value for o in QueueOrder if o is not QueueOrder.MULTIFACTOR)
BACKFILLS = backfill_names()
WEIGHTS = (  # (age, fairshare, job_size): age-led, fair-share-led, small-job-led, balanced
    (1000.0, 100.0, 100.0),
    (100.0, 1000.0, 100.0),
    (100.0, 100.0, 1000.0),
    (1000.0, 1000.0, 1000.0),
)
Metric = Literal["mean_wait_s", "p95_wait_s", "mean_bsld", "small_max_wait_s", "utilization"]
LOWER_IS_BETTER = {"mean_wait_s", "p95_wait_s", "mean_bsld", "small_max_wait_s"}
SYSTEM = (
    "Read an HPC admin's scheduling goals into JSON. primary: the one metric to improve. "
    "small_job_max_wait_s: the longest a small job may wait (0: no limit). "
    "min_utilization: the busy fraction to keep (0: no limit)."
)


class Goals(BaseModel):
    """The admin's goals as numbers the simulator can check."""

    primary: Metric
    small_job_max_wait_s: int = Field(ge=0, le=30 * 86400)
    min_utilization: float = Field(ge=0.0, le=1.0)


class Pick(BaseModel):
    pick: int


@dataclass(frozen=True, slots=True)
class Candidate:
    """One searched policy and its figures on the training part."""

    name: str
    policy: Policy
    figures: dict[str, float]


@dataclass(slots=True)
class AdviseResult:
    goals: Goals
    goals_read_by: str
    notes: list[str]
    searched: list[Candidate]
    pareto: list[Candidate]
    recommended: str
    chosen_by: str
    reasons: list[str]
    held_back: dict[str, dict[str, float]]  # figures of the pick and of EASY-FCFS on the last 30%
    record: DecisionRecord
    wall_s: float


def rule_goals(text: str) -> dict[str, Any]:
    """What the goals state outright."""
    t = text.lower()
    found: dict[str, Any] = {}
    if m := re.search(r"(\d+(?:\.\d+)?)\s*%\s*(?:busy|utili[sz]ed|utili[sz]ation)", t) or re.search(
        r"(?:busy|utili[sz]ation)[^.;]*?(\d+(?:\.\d+)?)\s*%", t
    ):
        found["min_utilization"] = float(m.group(1)) / 100.0
    if m := re.search(
        r"wait[s]? (?:more|longer) than (an|a|one|\d+(?:\.\d+)?) ?(hour|minute|min|day)", t
    ):
        count = 1.0 if m.group(1) in ("a", "an", "one") else float(m.group(1))
        unit = {"hour": 3600, "minute": 60, "min": 60, "day": 86400}[m.group(2)]
        found["small_job_max_wait_s"] = int(count * unit)
    if "slowdown" in t:
        found["primary"] = "mean_bsld"
    elif "tail" in t or "p95" in t:
        found["primary"] = "p95_wait_s"
    elif "small job" in t and "small_job_max_wait_s" in found:
        found["primary"] = "small_max_wait_s"
    return found


def read_goals(text: str, llm: LLMClient | None) -> tuple[Goals, str, list[str]]:
    stated = rule_goals(text)
    base = {"primary": "mean_wait_s", "small_job_max_wait_s": 0, "min_utilization": 0.0}
    notes: list[str] = []
    if llm is None:
        return Goals(**{**base, **stated}), "rules", notes
    try:
        reply = llm.structured(
            [{"role": "system", "content": SYSTEM}, {"role": "user", "content": quote(text, 400)}],
            Goals,
            name="goals",
            max_tokens=48,
        )
    except LLMError as exc:
        notes.append(f"the model could not read the goals ({exc}); read by rules")
        return Goals(**{**base, **stated}), "rules", notes
    read = reply.value.model_dump()
    corrected = {k: v for k, v in stated.items() if read[k] != v}
    for k, v in corrected.items():
        notes.append(f"the model read {k}={read[k]!r}; the goals say {v!r}")
    return Goals(**{**read, **corrected}), "llm+rules" if corrected else "llm", notes


def figures(result: SimResult, small_units: int) -> dict[str, float]:
    s = summarize(result)
    jm = job_metrics(result)
    small = result.units[jm.index] <= small_units
    return {
        "mean_wait_s": s.mean_wait_s,
        "p95_wait_s": s.p95_wait_s,
        "mean_bsld": s.mean_bsld,
        "small_max_wait_s": float(jm.wait_s[small].max()) if bool(small.any()) else 0.0,
        "utilization": s.utilization,
        "jain_fairness": s.jain_fairness,
    }


def candidates() -> list[tuple[str, Policy]]:
    out = [(f"{o}:{b}", Policy.parse(f"{o}:{b}")) for o in ORDERS for b in BACKFILLS]
    for age, fs, size in WEIGHTS:
        w = MultifactorWeights(age=age, fairshare=fs, job_size=size)
        for b in ("easy", "conservative"):
            name = f"multifactor:{b}[age={age:g},fairshare={fs:g},size={size:g}]"
            out.append((name, Policy.parse(f"multifactor:{b}", weights=w)))
    return out


def pareto(cands: list[Candidate], metrics: tuple[str, ...]) -> list[Candidate]:
    objectives = {m: m in LOWER_IS_BETTER for m in metrics}
    return [cands[i] for i in pareto_front([c.figures for c in cands], objectives)]


def score(c: Candidate, goals: Goals) -> tuple[float, float]:
    """(constraint violation, primary objective to minimize): lower is better."""
    f = c.figures
    violation = 0.0
    if goals.small_job_max_wait_s:
        violation += max(f["small_max_wait_s"] / goals.small_job_max_wait_s - 1.0, 0.0)
    if goals.min_utilization:
        violation += max(goals.min_utilization - f["utilization"], 0.0) * 10
    primary = f[goals.primary]
    return violation, primary if goals.primary in LOWER_IS_BETTER else -primary


def advise(
    jobs: JobTable,
    machine: Machine,
    goals_text: str,
    llm: LLMClient | None,
    *,
    guard: Guard | None = None,
    train_fraction: float = 0.7,
) -> AdviseResult:
    t0 = time.perf_counter()
    guard = guard or Guard()
    before = llm.usage.snapshot() if llm else (0, 0, 0)
    goals, read_by, notes = read_goals(goals_text, llm)
    cut = int(len(jobs) * train_fraction)
    if cut < 10 or len(jobs) - cut < 10:
        raise ValueError(f"advise needs at least ~35 jobs to hold back 30%, got {len(jobs)}")
    train, test = jobs.take(slice(0, cut)), jobs.take(slice(cut, len(jobs)))
    units = machine.units_for(jobs.procs, jobs.req_mem_kb)
    small_units = int(max(np.percentile(units, 25), 1))
    named = candidates()
    replays = replay_policies(train, machine, [p for _, p in named])
    searched = [
        Candidate(name, p, figures(result, small_units))
        for (name, p), result in zip(named, replays, strict=True)
    ]
    metrics = tuple(dict.fromkeys(("mean_wait_s", goals.primary, "small_max_wait_s",
                                   "utilization")))  # fmt: skip
    front = sorted(pareto(searched, metrics), key=lambda c: score(c, goals))
    shortlist = front[:4]
    by_name = dict(candidates())

    def held_back(name: str) -> dict[str, float]:
        if name not in by_name:
            raise ValueError(f"{name!r} is not one of the searched policies")
        return figures(simulate(test, machine, by_name[name]), small_units)

    baseline = held_back(BASELINE)
    chosen_by, reasons = "search", []
    order = [c.name for c in shortlist]
    if llm is not None and len(shortlist) >= 2:
        try:
            pick = _ask_pick(llm, goals_text, goals, shortlist)
            order.insert(0, order.pop(pick))
            chosen_by = "llm"
        except (LLMError, IndexError) as exc:
            reasons.append(f"model pick unusable: {exc}")
    recommended, verdict = BASELINE, Verdict(True, ("no candidate beat the baseline",), baseline)
    for k, name in enumerate(order):
        action = Proposal(AgentKind.SET_POLICY, policy=name)
        v = guard.check_policy(action, lambda n: held_back(n), baseline, goals.primary
                               if goals.primary in LOWER_IS_BETTER else "mean_wait_s")  # fmt: skip
        if v.accepted:
            recommended, verdict = name, v
            if k > 0:
                chosen_by = "guard-fallback" if chosen_by == "llm" else chosen_by
            break
        reasons.append(f"{name} refused: {'; '.join(v.reasons)}")
    else:
        chosen_by = "guard-fallback"
    pick_train = next((c for c in searched if c.name == recommended), None)
    why = _reasons(recommended, pick_train, goals, verdict, baseline)
    after = llm.usage.snapshot() if llm else (0, 0, 0)
    record = DecisionRecord(
        question=f"advise: {goals_text}",
        action=Proposal(AgentKind.SET_POLICY, policy=recommended).as_dict(),
        rationale=why,
        objectives={"goals": goals.model_dump(), "held_back": dict(verdict.recomputed),
                    "baseline_held_back": baseline,
                    "pareto": [{"policy": c.name, **c.figures} for c in front]},
        verdict={**verdict.as_dict(), "refused": reasons},
        chosen_by=chosen_by,
        tool_calls=[{"name": "simulate", "arguments": {"policy": c.name, "part": "train"},
                     "result": c.figures} for c in searched],
        wall_s=time.perf_counter() - t0,
        llm_calls=after[0] - before[0],
        prompt_tokens=after[1] - before[1],
        completion_tokens=after[2] - before[2],
    )  # fmt: skip
    return AdviseResult(goals, read_by, notes, searched, front, recommended, chosen_by, reasons,
                        {"recommended": dict(verdict.recomputed), BASELINE: baseline}, record,
                        time.perf_counter() - t0)  # fmt: skip


def _ask_pick(llm: LLMClient, text: str, goals: Goals, shortlist: list[Candidate]) -> int:
    lines = [
        f"{k}: {c.name}: mean wait {c.figures['mean_wait_s']:.0f} s, small-job max wait "
        f"{c.figures['small_max_wait_s']:.0f} s, utilization {c.figures['utilization']:.2f}, "
        f"slowdown {c.figures['mean_bsld']:.2f}"
        for k, c in enumerate(shortlist)
    ]
    schema = {
        "type": "object",
        "properties": {"pick": {"enum": list(range(len(shortlist)))}},
        "required": ["pick"],
        "additionalProperties": False,
    }
    reply = llm.structured(
        [
            {"role": "system", "content": "Pick the policy that best meets the goals. JSON only."},
            {"role": "user", "content": f"Goals: {quote(text, 300)}\n" + "\n".join(lines)},
        ],
        Pick,
        name="pick",
        max_tokens=8,
        json_schema=schema,
    )
    if not 0 <= reply.value.pick < len(shortlist):
        raise IndexError(f"option {reply.value.pick} does not exist")
    return reply.value.pick


def _reasons(
    name: str,
    train: Candidate | None,
    goals: Goals,
    verdict: Verdict,
    baseline: dict[str, float],
) -> str:
    held = verdict.recomputed
    parts = [f"recommend {name}"]
    if name != BASELINE and held:
        parts.append(
            f"on the held-back 30% it gives {goals.primary} {held[goals.primary]:.1f} vs "
            f"{baseline[goals.primary]:.1f} under {BASELINE}"
        )
    if train is not None:
        f = train.figures
        parts.append(
            f"on the first 70%: mean wait {f['mean_wait_s']:.0f} s, small-job max wait "
            f"{f['small_max_wait_s']:.0f} s, utilization {f['utilization']:.2f}"
        )
    if goals.small_job_max_wait_s and train is not None:
        ok = train.figures["small_max_wait_s"] <= goals.small_job_max_wait_s
        parts.append(f"small-job wait limit {'met' if ok else 'not met'}")
    if goals.min_utilization and train is not None:
        ok = train.figures["utilization"] >= goals.min_utilization
        parts.append(f"utilization floor {'met' if ok else 'not met'}")
    return "; ".join(parts)

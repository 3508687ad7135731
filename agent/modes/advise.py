"""`agent advise`: a policy search for a confirmed goal, its Pareto set, and a guarded pick.

The goal (`hpc.objectives.Goal`, read and confirmed beforehand: `agent.modes.goals`) is
weighted objectives or a lexicographic order plus hard constraints. The search replays the
first 70% of the workload under each candidate; the Pareto set is taken over all five
objectives (mean wait, bounded slowdown, utilization, fairness, makespan), each member's
trade-off against the baseline said in one sentence, and each member's constraints checked.
The goal picks (among the members meeting every constraint, else the closest, said to be
infeasible). The guard then replays the held-back last 30% and accepts the pick only if it
is no worse than the baseline on the goal's first objective; otherwise the next best, and
at last the baseline itself, is recommended.

Two workspaces: a one-pool machine (candidates: queue orders x backfill modes, multifactor
weights), or a stored site (candidates are what Slurm runs: submit order or multifactor
priority under sched/backfill or sched/builtin, weight settings, and QOS limits where the
jobs carry QOS), whose pick turns into Slurm actions (`agent.modes.site_actions`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agent.guard import AgentKind, Guard, Proposal, Verdict
from agent.modes.tradeoffs import sentence
from agent.records import DecisionRecord
from hpc.compare import pareto_front
from hpc.model import JobTable, Machine
from hpc.objectives import (
    ConstraintCheck,
    Goal,
    Measure,
    Objective,
    Replay,
    check,
    choose,
    objective_values,
)
from hpc.sim import MultifactorWeights, Policy, QueueOrder, simulate
from hpc.sim.policy import backfill_names
from hpc.sim.site_engine import simulate_site
from hpc.sim.site_policy import own_policy
from hpc.site.changes import apply_changes, parse_change
from hpc.site.model import Site
from hpc.site.whatif import SiteWorkload

BASELINE = "fcfs:easy"
ORDERS = tuple(o.value for o in QueueOrder if o is not QueueOrder.MULTIFACTOR)
BACKFILLS = backfill_names()
WEIGHTS = (  # (age, fairshare, job_size): age-led, fair-share-led, small-job-led, balanced
    (1000, 100, 100),
    (100, 1000, 100),
    (100, 100, 1000),
    (1000, 1000, 1000),
)


@dataclass(frozen=True, slots=True)
class Spec:
    """A candidate before it is replayed: its name, policy and site change lines."""

    name: str
    policy: Policy
    changes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Candidate:
    """One searched candidate and its objectives and constraint checks on the first 70%."""

    spec: Spec
    values: dict[Objective, float]
    checks: tuple[ConstraintCheck, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def feasible(self) -> bool:
        return all(c.met for c in self.checks)

    def figures(self) -> dict[str, float]:
        return {o.value: v for o, v in self.values.items()}


@dataclass(slots=True)
class AdviseResult:
    goal: Goal
    searched: list[Candidate]
    pareto: list[Candidate]
    baseline: str
    recommended: Candidate
    feasible: bool  # whether the recommendation meets every constraint on the first 70%
    chosen_by: str  # "goal" (the goal's own pick) or "guard-fallback"
    trade_offs: dict[str, str]  # one sentence per Pareto member (and the recommendation)
    refused: list[str]
    held_back: dict[str, dict[str, float]]  # the recommendation's and the baseline's, last 30%
    held_back_checks: list[ConstraintCheck]
    record: DecisionRecord
    wall_s: float


Run = Callable[[Spec, str], Replay]  # a spec replayed on "train" or "test"


def advise(
    jobs: JobTable,
    machine: Machine,
    goal: Goal,
    *,
    goal_text: str = "",
    guard: Guard | None = None,
    train_fraction: float = 0.7,
) -> AdviseResult:
    """Advice for a one-pool machine: queue orders x backfill modes and multifactor weights."""
    train, test = _split(jobs, train_fraction)
    parts = {"train": train, "test": test}

    def run(spec: Spec, part: str) -> Replay:
        return simulate(parts[part], machine, spec.policy)

    return _decide(goal, goal_text, one_pool_specs(), BASELINE, run, guard)


def advise_site(
    workload: SiteWorkload,
    site: Site,
    goal: Goal,
    *,
    goal_text: str = "",
    guard: Guard | None = None,
    train_fraction: float = 0.7,
) -> AdviseResult:
    """Advice for a stored site: what Slurm can run, each candidate a changed site."""
    train, test = _split(workload.jobs, train_fraction)
    parts = {
        p: dataclasses.replace(workload, jobs=j) for p, j in (("train", train), ("test", test))
    }
    specs = site_specs(site, goal, has_qos=bool((workload.demand(site).qos >= 0).any()))

    def run(spec: Spec, part: str) -> Replay:
        changed = apply_changes(site, [parse_change(line) for line in spec.changes])
        w = parts[part]
        return simulate_site(w.jobs, changed, spec.policy, w.demand(changed))

    return _decide(goal, goal_text, specs, specs[0].name, run, guard)


def one_pool_specs() -> list[Spec]:
    out = [Spec(f"{o}:{b}", Policy.parse(f"{o}:{b}")) for o in ORDERS for b in BACKFILLS]
    for age, fs, size in WEIGHTS:
        w = MultifactorWeights(age=age, fairshare=fs, job_size=size)
        for b in ("easy", "conservative"):
            name = f"multifactor:{b}[age={age:g},fairshare={fs:g},size={size:g}]"
            out.append(Spec(name, Policy.parse(f"multifactor:{b}", weights=w)))
    return out


def site_specs(site: Site, goal: Goal, *, has_qos: bool) -> list[Spec]:
    """The site as it is first (the baseline), then what Slurm can be set to run."""
    own = own_policy(site)
    out = [Spec(f"as it is ({own.name})", own)]
    for name in ("fcfs:conservative", "fcfs:none"):
        if name != own.name:
            out.append(Spec(name, Policy.parse(name)))
    for age, fs, size in WEIGHTS:
        lines = (f"weight age={age}", f"weight fairshare={fs}", f"weight job_size={size}")
        for b in ("conservative", "none"):
            out.append(
                Spec(
                    f"multifactor:{b}[age={age},fairshare={fs},size={size}]",
                    Policy.parse(f"multifactor:{b}"),
                    lines,
                )
            )
    fairness = Objective.FAIRNESS in goal.objectives or any(
        c.measure in (Measure.FAIRNESS_ACCOUNTS, Measure.FAIRNESS_USERS) for c in goal.constraints
    )
    if fairness and has_qos and site.qos:
        cores = site.totals()["cores"]
        for qos in sorted(site.qos):
            for share in (2, 4):  # at most a half, a quarter of the cores per account
                line = f"qos {qos} MaxTRESPA=cpu={max(cores // share, 1)}"
                out.append(Spec(f"{own.name} + {line}", own, (line,)))
    return out


def _split(jobs: JobTable, fraction: float) -> tuple[JobTable, JobTable]:
    cut = int(len(jobs) * fraction)
    if cut < 10 or len(jobs) - cut < 10:
        raise ValueError(f"advise needs at least ~35 jobs to hold back 30%, got {len(jobs)}")
    return jobs.take(slice(0, cut)), jobs.take(slice(cut, len(jobs)))


def stated_objective(goal: Goal) -> Objective:
    """The objective the guard holds the pick to: the first, or the most weighted."""
    if goal.order:
        return goal.order[0]
    return max(goal.weights, key=lambda o: goal.weights[o])


def ranked(cands: Sequence[Candidate], goal: Goal) -> list[Candidate]:
    """Best first by the goal: feasible ones by its objectives, then the closest to."""
    left, out = list(cands), []
    while left:
        pick = choose([c.values for c in left], goal, [c.checks for c in left])
        out.append(left.pop(pick.index))
    return out


def _decide(
    goal: Goal, text: str, specs: list[Spec], baseline: str, run: Run, guard: Guard | None
) -> AdviseResult:
    t0 = time.perf_counter()
    guard = guard or Guard()
    searched = []
    for spec in specs:
        replay = run(spec, "train")
        searched.append(
            Candidate(spec, objective_values(replay), tuple(check(replay, goal.constraints)))
        )
    directions = {o.value: o.lower_is_better for o in Objective}
    front = [searched[i] for i in pareto_front([c.figures() for c in searched], directions)]
    order = ranked(searched, goal)
    by_name = {c.name: c for c in searched}
    base = by_name[baseline]
    objective = stated_objective(goal)
    held: dict[str, tuple[dict[str, float], list[ConstraintCheck]]] = {}

    def held_back(name: str) -> dict[str, float]:
        if name not in held:
            replay = run(by_name[name].spec, "test")
            values = objective_values(replay)
            held[name] = ({o.value: v for o, v in values.items()}, check(replay, goal.constraints))
        return held[name][0]

    base_held = held_back(baseline)
    pick, verdict = base, Verdict(True, ("no candidate beat the baseline",), base_held)
    refused: list[str] = []
    for cand in order:
        if cand.name == baseline:
            break
        v = guard.check_policy(
            Proposal(AgentKind.SET_POLICY, policy=cand.name),
            held_back,
            base_held,
            objective.value,
            higher_is_better=not objective.lower_is_better,
        )
        if v.accepted:
            pick, verdict = cand, v
            break
        refused.append(f"{cand.name} refused: {'; '.join(v.reasons)}")
    chosen_by = "goal" if pick is order[0] else "guard-fallback"
    shown = front if pick in front else [*front, pick]
    trade = {c.name: sentence(c.name, c.values, base.name, base.values) for c in shown}
    held_figures = {"recommended": held_back(pick.name), baseline: base_held}
    outcome = Outcome(goal, pick, baseline, trade, held_figures, held[pick.name][1])
    record = _record(
        outcome, text, searched, front, verdict, refused, chosen_by, time.perf_counter() - t0
    )
    return AdviseResult(
        goal,
        searched,
        front,
        baseline,
        pick,
        pick.feasible,
        chosen_by,
        trade,
        refused,
        held_figures,
        held[pick.name][1],
        record,
        time.perf_counter() - t0,
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the rationale is written from."""

    goal: Goal
    pick: Candidate
    baseline: str
    trade_offs: dict[str, str]
    held_back: dict[str, dict[str, float]]
    held_back_checks: list[ConstraintCheck]


def rationale(r: Outcome) -> str:
    """Why the recommendation, in a few sentences with the numbers."""
    pick = r.pick
    parts = [f"recommend {pick.name} for the goal: {r.goal.describe()}"]
    if pick.name != r.baseline:
        parts.append(r.trade_offs[pick.name])
    if r.goal.constraints:
        met = (
            "meets every constraint"
            if pick.feasible
            else "is infeasible (no candidate meets every constraint): it comes closest"
        )
        parts.append(
            f"on the first 70% it {met} (" + "; ".join(c.describe() for c in pick.checks) + ")"
        )
        parts.append("on the held-back 30%: " + "; ".join(c.describe() for c in r.held_back_checks))
    o = stated_objective(r.goal)
    rec, base = r.held_back["recommended"][o.value], r.held_back[r.baseline][o.value]
    parts.append(
        f"the guard's held-back check: {o.label} {o.format(rec)} vs {o.format(base)} "
        f"under {r.baseline}"
    )
    return "; ".join(parts)


def _record(
    r: Outcome,
    text: str,
    searched: list[Candidate],
    front: list[Candidate],
    verdict: Verdict,
    refused: list[str],
    chosen_by: str,
    wall_s: float,
) -> DecisionRecord:
    pick = r.pick
    return DecisionRecord(
        question=f"advise: {text or r.goal.describe()}",
        action={
            **Proposal(AgentKind.SET_POLICY, policy=pick.name).as_dict(),
            "changes": list(pick.spec.changes),
        },
        rationale=rationale(r),
        objectives={
            "goal": r.goal.describe(),
            "feasible": pick.feasible,
            "held_back": r.held_back,
            "held_back_constraints": [c.as_dict() for c in r.held_back_checks],
            "pareto": [
                {
                    "policy": c.name,
                    **c.figures(),
                    "feasible": c.feasible,
                    "trade_off": r.trade_offs[c.name],
                }
                for c in front
            ],
        },
        verdict={**verdict.as_dict(), "refused": refused},
        chosen_by=chosen_by,
        tool_calls=[
            {
                "name": "simulate",
                "arguments": {"policy": c.name, "part": "train"},
                "result": c.figures(),
            }
            for c in searched
        ],
        wall_s=wall_s,
    )

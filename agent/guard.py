"""The guard: a deterministic check of every action the agent proposes, before it counts.

It checks that the action kind is one it may propose and its target is within the remit
(accounts, partitions), that the resources exist and are free, that the resulting plan is
feasible, and it recomputes every objective with the simulator: a number the model claims
is compared, never used. A rejected action is replaced by the best heuristic's action for
that decision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from agent.batch.ranking import Key, Ranking, worse
from agent.batch.schedule import Batch, Plan
from agent.quantities import Figure, unmatched
from hpc.model import IntArray
from hpc.slurm.job_action import Action, ActionKind
from hpc.slurm.remit import Remit

CLAIM_TOLERANCE = 0.05  # a claimed objective more than 5% off the simulator's is false


class AgentKind(Enum):
    """What only the agent proposes; job actions (hold, nice, ...) are `hpc.slurm`'s kinds."""

    START = "start"  # start a pending job now
    WAIT = "wait"  # start nothing more at this decision point
    SET_POLICY = "set_policy"  # recommend a queue order, backfill mode and weights


Kind = AgentKind | ActionKind
AGENT_KINDS: frozenset[Kind] = frozenset(AgentKind)


def parse_kind(text: str) -> Kind:
    """A kind from its stored name: an agent kind or a Slurm job action's."""
    for kinds in (AgentKind, ActionKind):
        try:
            return kinds(text)
        except ValueError:
            pass
    names = ", ".join([k.value for k in AgentKind] + [k.value for k in ActionKind])
    raise ValueError(f"unknown action kind {text!r}: use one of {names}")


def user_remit(accounts: Iterable[int] | None) -> Remit:
    """The remit over a simulated workload's user ids (None: every user), any partition."""
    if accounts is None:
        return Remit.everything()
    return Remit(frozenset(str(a) for a in accounts), any_partition=True)


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposed action, with any objective values its proposer claims. A job action
    (`ActionKind`) carries its `value` where the kind takes one (nice, priority, ...)."""

    kind: Kind
    job_id: int | None = None
    policy: str | None = None
    claims: Mapping[str, float] = field(default_factory=dict)
    value: int | str | None = None

    def job_action(self) -> Action | None:
        """The Slurm job action this stands for (None for the agent's own kinds)."""
        if isinstance(self.kind, ActionKind):
            return Action(self.kind, self.value)
        return None

    def as_dict(self) -> dict[str, Any]:
        out = {
            "kind": self.kind.value,
            "job_id": self.job_id,
            "policy": self.policy,
            "claims": dict(self.claims),
        }
        return out if self.value is None else {**out, "value": self.value}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The guard's answer: accepted or not, why, and the simulator's own numbers."""

    accepted: bool
    reasons: tuple[str, ...] = ()
    recomputed: Mapping[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": "accepted" if self.accepted else "rejected",
            "reasons": list(self.reasons),
            "recomputed": dict(self.recomputed),
        }


@dataclass(frozen=True, slots=True)
class Guard:
    """Checks actions against `remit`; holds no state between checks."""

    remit: Remit = field(default_factory=Remit.everything)
    kinds: frozenset[Kind] = AGENT_KINDS  # what it may propose at all

    def check_dispatch(
        self,
        action: Proposal,
        batch: Batch,
        fixed: IntArray,
        now: int,
        plan: Plan,
        incumbent: Key,
        ranking: Ranking,
    ) -> Verdict:
        """A START or WAIT at `now`, whose consequence is `plan`, against the incumbent's key
        (by `ranking`: one objective, or a goal's constraints and objectives)."""
        reasons = list(self._kind_reasons(action))
        if action.kind is AgentKind.START:
            reasons += self._start_reasons(action, batch, fixed, now)
        elif action.kind is not AgentKind.WAIT:
            reasons.append(f"{action.kind.value} is not a dispatch action")
        if reasons:
            return Verdict(False, tuple(reasons))
        reasons += self._plan_reasons(action, batch, fixed, now, plan)
        recomputed = batch.metrics(plan.start_s) if not reasons else {}
        key = ranking.key(plan.start_s) if recomputed else incumbent
        if worse(key, incumbent):
            reasons.append(
                f"{ranking.name} {ranking.describe(key)} is worse than the best "
                f"heuristic's {ranking.describe(incumbent)}"
            )
        reasons += _claim_reasons(action.claims, recomputed)
        return Verdict(not reasons, tuple(reasons), recomputed)

    def check_policy(
        self,
        action: Proposal,
        evaluate: Callable[[str], Mapping[str, float]],
        baseline: Mapping[str, float],
        objective: str,
        *,
        higher_is_better: bool = False,
    ) -> Verdict:
        """A policy recommendation: simulated here, and no worse than `baseline` on `objective`
        (lower is better unless `higher_is_better`: utilization, fairness)."""
        reasons = list(self._kind_reasons(action))
        if action.kind is not AgentKind.SET_POLICY or not action.policy:
            reasons.append("a policy recommendation must name a policy")
        if reasons:
            return Verdict(False, tuple(reasons))
        assert action.policy is not None
        try:
            recomputed = dict(evaluate(action.policy))
        except ValueError as exc:
            return Verdict(False, (f"policy {action.policy!r} cannot be simulated: {exc}",))
        sign = -1.0 if higher_is_better else 1.0
        if sign * (recomputed[objective] - baseline[objective]) > 1e-9:
            reasons.append(
                f"{objective} {recomputed[objective]:.6g} is worse than the baseline's "
                f"{baseline[objective]:.6g}"
            )
        reasons += _claim_reasons(action.claims, recomputed)
        return Verdict(not reasons, tuple(reasons), recomputed)

    @staticmethod
    def check_rationale(text: str, figures: Iterable[Figure]) -> Verdict:
        """A rationale in words: every number it quotes must be one of the simulated `figures`
        (within the precision it was written with; `agent.quantities`)."""
        wrong = unmatched(text, figures)
        reasons = tuple(f"quoted {q.describe()}, which no simulated figure matches" for q in wrong)
        return Verdict(not reasons, reasons)

    def _kind_reasons(self, action: Proposal) -> list[str]:
        if action.kind not in self.kinds:
            allowed = ", ".join(sorted(k.value for k in self.kinds))
            return [f"action {action.kind.value!r} is outside the remit (allowed: {allowed})"]
        return []

    def _start_reasons(
        self, action: Proposal, batch: Batch, fixed: IntArray, now: int
    ) -> list[str]:
        jobs = batch.jobs
        where = np.flatnonzero(jobs.job_id == action.job_id)
        if action.job_id is None or len(where) == 0:
            return [f"job {action.job_id} does not exist"]
        j = int(where[0])
        reasons: list[str] = []
        if not self.remit.covers(str(int(jobs.user[j])), str(int(jobs.partition[j]))):
            reasons.append(
                f"job {action.job_id} (account {int(jobs.user[j])}, partition "
                f"{int(jobs.partition[j])}) is outside the remit"
            )
        if fixed[j] >= 0:
            reasons.append(f"job {action.job_id} has already started")
        elif int(jobs.submit_s[j]) > now:
            reasons.append(f"job {action.job_id} is not submitted yet (t={now})")
        running = (fixed >= 0) & (fixed <= now) & (fixed + batch.duration > now)
        free = batch.machine.units - int(batch.units[running].sum())
        if int(batch.units[j]) > free:
            reasons.append(f"job {action.job_id} needs {int(batch.units[j])} units, {free} free")
        return reasons

    @staticmethod
    def _plan_reasons(
        action: Proposal, batch: Batch, fixed: IntArray, now: int, plan: Plan
    ) -> list[str]:
        start = plan.start_s
        was_fixed = fixed >= 0
        if bool(np.any(start[was_fixed] != fixed[was_fixed])):
            return ["the plan moves a job that has already started"]
        open_ = ~was_fixed
        if action.kind is AgentKind.START:
            j = int(np.flatnonzero(batch.jobs.job_id == action.job_id)[0])
            if int(start[j]) != now:
                return [f"the plan does not start job {action.job_id} now"]
        elif bool(np.any(start[open_] <= now)):
            return ["a wait must not start anything more now"]
        if bool(np.any(start[open_] < now)):
            return ["the plan starts a job in the past"]
        return batch.violations(start)


def _claim_reasons(claims: Mapping[str, float], recomputed: Mapping[str, float]) -> list[str]:
    reasons = []
    for name, claimed in claims.items():
        actual = recomputed.get(name)
        if actual is None:
            reasons.append(f"claim about unknown objective {name!r}")
        elif abs(claimed - actual) > CLAIM_TOLERANCE * max(abs(actual), 1.0):
            reasons.append(f"claimed {name}={claimed:g} but the simulator says {actual:g}")
    return reasons

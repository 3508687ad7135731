"""Complete schedules of a small batch of jobs: objectives, heuristic plans and rollouts.

The dispatch setting is the paper's: a known batch (arrivals and durations known; a job
runs for min(actual, requested) seconds, as the simulator's engine does with kill at limit).
A *plan* gives every job a start time (trace seconds). Plans come from the simulator's
heuristics (`hpc.sim`) or from rollouts: fix the starts decided so far, then place every
other job, in a base order, at its earliest feasible start on the availability profile.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum

import numpy as np

from hpc.metrics import BSLD_THRESHOLD_S, Summary, jain_index, summarize
from hpc.model import IntArray, JobTable, Machine
from hpc.sim import BackfillMode, Policy, QueueOrder, SimResult, simulate
from hpc.sim.profile import Profile
from hpc.sim.state import COMPLETED, NEVER

HEURISTICS = tuple(
    Policy(order, backfill)
    for order in (QueueOrder.FCFS, QueueOrder.SJF)
    for backfill in (BackfillMode.NONE, BackfillMode.EASY, BackfillMode.CONSERVATIVE)
)


class Objective(Enum):
    """What a dispatch minimizes (all in seconds except bounded slowdown)."""

    MEAN_WAIT = "mean_wait"
    WEIGHTED_WAIT = "weighted_wait"  # wait weighted by the job's allocation units
    MAKESPAN = "makespan"
    MEAN_BSLD = "mean_bsld"


@dataclass(frozen=True, slots=True)
class Plan:
    """A complete schedule: `start_s[j]` for every job, and where it came from."""

    start_s: IntArray
    source: str  # "fcfs:easy", "rollout:sjf", ...


class Batch:
    """A batch of jobs on a machine, with the arrays every plan computation needs."""

    def __init__(self, jobs: JobTable, machine: Machine) -> None:
        self.jobs, self.machine = jobs, machine
        self.units = machine.units_for(jobs.procs, jobs.req_mem_kb)
        self.duration = np.minimum(np.maximum(jobs.run_s, 0), np.maximum(jobs.req_time_s, 1))
        self.submit = jobs.submit_s.astype(np.int64)
        self._u: list[int] = self.units.tolist()
        self._d: list[int] = self.duration.tolist()
        self._r: list[int] = self.submit.tolist()
        self.orders = {
            "fcfs": sorted(range(len(jobs)), key=lambda j: (self._r[j], j)),
            "sjf": sorted(range(len(jobs)), key=lambda j: (self._d[j], self._r[j], j)),
            "big": sorted(range(len(jobs)), key=lambda j: (-self._u[j] * self._d[j], j)),
            "long": sorted(range(len(jobs)), key=lambda j: (-self._d[j], j)),
            "wide": sorted(range(len(jobs)), key=lambda j: (-self._u[j], -self._d[j], j)),
        }

    def __len__(self) -> int:
        return len(self.jobs)

    def metrics(self, start_s: IntArray) -> dict[str, float]:
        """The objectives of a complete plan (same formulas as `hpc.metrics`)."""
        wait = (start_s - self.submit).astype(np.float64)
        run = self.duration.astype(np.float64)
        bsld = np.maximum((wait + run) / np.maximum(run, BSLD_THRESHOLD_S), 1.0)
        users, inverse = np.unique(self.jobs.user, return_inverse=True)
        per_user = np.bincount(inverse, bsld) / np.bincount(inverse)
        weights = self.units.astype(np.float64)
        makespan = float((start_s + self.duration).max() - self.submit.min())
        busy = float((weights * run).sum())
        return {
            "mean_wait": float(wait.mean()),
            "weighted_wait": float((wait * weights).sum() / weights.sum()),
            "makespan": makespan,
            "mean_bsld": float(bsld.mean()),
            "jain": jain_index(per_user) if len(users) else 1.0,
            "utilization": busy / (self.machine.units * makespan) if makespan > 0 else 0.0,
        }

    def value(self, start_s: IntArray, objective: Objective) -> float:
        return self.metrics(start_s)[objective.value]

    def heuristic_plans(self) -> list[Plan]:
        """The simulator's own schedules under FCFS/SJF x none/EASY/conservative."""
        return [
            Plan(simulate(self.jobs, self.machine, p).start_s.astype(np.int64), p.name)
            for p in HEURISTICS
        ]

    def rollout(self, fixed: IntArray, now: int, order: str, *, not_before: int) -> Plan:
        """Keep `fixed` starts (-1: not fixed), place the rest at >= `not_before`, in `order`."""
        u, d, r = self._u, self._d, self._r
        start = fixed.copy()
        fixed_l: list[int] = fixed.tolist()
        busy = 0
        releases: list[tuple[int, int]] = []
        for j, s in enumerate(fixed_l):
            if s >= 0 and s + d[j] > now:
                busy += u[j]
                releases.append((s + d[j], u[j]))
        profile = Profile(now, self.machine.units - busy, releases)
        for j in self.orders[order]:
            if fixed_l[j] >= 0:
                continue
            s = profile.earliest(u[j], d[j], max(r[j], not_before))
            if s == NEVER:
                raise ValueError(f"job {int(self.jobs.job_id[j])} can never fit the machine")
            profile.add(s, s + d[j], -u[j])
            start[j] = s
        return Plan(start, f"rollout:{order}")

    def violations(self, start_s: IntArray) -> list[str]:
        """Why a plan is infeasible (empty: every job starts after submit, capacity holds)."""
        problems: list[str] = []
        ids = self.jobs.job_id
        for j in np.flatnonzero(start_s < self.submit):
            problems.append(f"job {int(ids[j])} starts before it is submitted")
        if problems:
            return problems
        events: dict[int, int] = {}
        for s, e, k in zip(
            start_s.tolist(), (start_s + self.duration).tolist(), self._u, strict=True
        ):
            if e > s:
                events[s] = events.get(s, 0) + k
                events[e] = events.get(e, 0) - k
        used = 0
        for t in sorted(events):
            used += events[t]
            if used > self.machine.units:
                problems.append(
                    f"{used} units in use at t={t} on a {self.machine.units}-unit machine"
                )
                break
        return problems

    def summary(self, start_s: IntArray, name: str) -> Summary:
        """`hpc.metrics.summarize` of a plan, for tables next to the simulator's baselines."""
        return dataclasses.replace(summarize(self.replay(start_s)), policy=name)

    def replay(self, start_s: IntArray) -> SimResult:
        """A plan as the simulator's result (every job run to completion), for `hpc` measures."""
        n = len(self)
        return SimResult(
            jobs=self.jobs,
            machine=self.machine,
            policy=Policy(),
            start_s=start_s.copy(),
            end_s=start_s + self.duration,
            state=np.full(n, COMPLETED, dtype=np.uint8),
            units=self.units.copy(),
            capacity_steps=[(int(self.submit.min()) if n else 0, self.machine.units)],
            wall_s=0.0,
        )

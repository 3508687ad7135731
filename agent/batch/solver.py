"""An exact solver for a batch: CP-SAT (OR-Tools) with cumulative capacity and release times.

The agent's dispatch uses it as one more candidate plan for its incumbent, and the bench's
CP-SAT baseline (`bench/agent_eval.py`) is the same call. Starts already made stay where they
are; every other job starts at or after both its submit time and `now`. The model minimizes
makespan, mean wait or allocation-weighted wait (the same objectives as `Batch.metrics`); the
solver's schedule is then left-shifted (each job, in the solver's start order, moved to its
earliest feasible start), which moves no job later and so worsens none of those objectives.

OR-Tools is optional: without it, for an objective it cannot model (bounded slowdown), or when
the time limit passes before any schedule is found, `solve` returns None. A returned plan has
been re-checked with `Batch.violations`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from agent.batch.schedule import Batch, Objective, Plan
from hpc.model import IntArray
from hpc.sim.profile import Profile
from hpc.sim.state import NEVER

SUPPORTED = (Objective.MAKESPAN, Objective.MEAN_WAIT, Objective.WEIGHTED_WAIT)


@dataclass(frozen=True, slots=True)
class Solution:
    """A solver plan and how it was found."""

    plan: Plan  # source "cpsat:<objective>"
    value: float  # `Batch.value(plan.start_s, objective)`
    optimal: bool  # proven optimal within the time limit
    wall_s: float


def available() -> bool:
    """Whether OR-Tools' CP-SAT can be imported."""
    try:
        from ortools.sat.python import cp_model  # noqa: F401
    except ImportError:
        return False
    return True


def solve(
    batch: Batch,
    objective: Objective,
    *,
    fixed: IntArray | None = None,
    now: int | None = None,
    time_limit_s: float = 2.0,
    hint: IntArray | None = None,
    workers: int = 2,
) -> Solution | None:
    """The CP-SAT schedule of `batch` for `objective`, or None (no OR-Tools, no solution).

    Args:
        batch: the jobs and the machine.
        objective: makespan, mean wait or weighted wait (bounded slowdown: None).
        fixed: starts already made (-1: open); those jobs keep them.
        now: open jobs start at or after this time (default: the first submit).
        time_limit_s: the solver's wall-clock limit.
        hint: a feasible complete plan that agrees with `fixed`, to start the search from
            (default: the best rollout of the batch's base orders).
        workers: CP-SAT search workers.
    """
    if objective not in SUPPORTED or len(batch) == 0:
        return None
    try:
        from ortools.sat.python import cp_model
    except ImportError:
        return None
    t0 = time.perf_counter()
    n = len(batch)
    fixed = np.full(n, -1, dtype=np.int64) if fixed is None else fixed
    now = int(batch.submit.min()) if now is None else int(now)
    r, d, u = batch.submit.tolist(), batch.duration.tolist(), batch.units.tolist()
    fixed_l: list[int] = fixed.tolist()
    open_ = [j for j in range(n) if fixed_l[j] < 0]
    if not open_:
        return None
    if hint is None:
        hint = min(
            (batch.rollout(fixed, now, order, not_before=now).start_s for order in batch.orders),
            key=lambda s: batch.value(s, objective),
        )
    earliest = {j: max(r[j], now) for j in open_}
    fixed_end = max((fixed_l[j] + d[j] for j in range(n) if fixed_l[j] >= 0), default=now)
    horizon = int(max(max(earliest.values()), fixed_end) + sum(d[j] for j in open_) + 1)

    m = cp_model.CpModel()
    starts = {j: m.new_int_var(earliest[j], horizon, f"s{j}") for j in open_}
    intervals, demands = [], []
    for j in range(n):
        if fixed_l[j] >= 0:
            if fixed_l[j] + d[j] <= now or d[j] == 0:
                continue  # over before any open job can start
            intervals.append(m.new_fixed_size_interval_var(fixed_l[j], d[j], f"f{j}"))
        else:
            intervals.append(m.new_fixed_size_interval_var(starts[j], d[j], f"i{j}"))
        demands.append(u[j])
    m.add_cumulative(intervals, demands, batch.machine.units)
    if objective is Objective.MAKESPAN:
        end = m.new_int_var(fixed_end, horizon + max(d), "end")
        for j in open_:
            m.add(end >= starts[j] + d[j])
        m.minimize(end)
    else:
        weight = {j: u[j] if objective is Objective.WEIGHTED_WAIT else 1 for j in open_}
        m.minimize(sum(weight[j] * (starts[j] - r[j]) for j in open_))
    for j in open_:
        m.add_hint(starts[j], int(hint[j]))

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit_s)
    solver.parameters.num_workers = int(workers)
    solver.parameters.random_seed = 0
    status = solver.solve(m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    start = fixed.copy()
    for j in open_:
        start[j] = int(solver.value(starts[j]))
    start = _left_shift(batch, fixed, now, start)
    if batch.violations(start) or bool(np.any(start[fixed >= 0] != fixed[fixed >= 0])):
        return None  # never hand out an infeasible plan
    return Solution(
        plan=Plan(start, f"cpsat:{objective.value}"),
        value=batch.value(start, objective),
        optimal=status == cp_model.OPTIMAL,
        wall_s=time.perf_counter() - t0,
    )


def _left_shift(batch: Batch, fixed: IntArray, now: int, start: IntArray) -> IntArray:
    """Each open job, in order of its start, at its earliest feasible start: none moves later.

    (Jobs placed before job k start no later than they did, so at any time after its old
    start they use no more than they did then, and the old start is still feasible for k.)
    """
    d, u, r = batch.duration.tolist(), batch.units.tolist(), batch.submit.tolist()
    fixed_l: list[int] = fixed.tolist()
    if any(s > now for s in fixed_l):
        return start  # a start made for later: the profile below models releases only
    busy, releases = 0, []
    for j, s in enumerate(fixed_l):
        if s >= 0 and s + d[j] > now:
            busy += u[j]
            releases.append((s + d[j], u[j]))
    profile = Profile(now, batch.machine.units - busy, releases)
    shifted = start.copy()
    old: list[int] = start.tolist()
    for j in sorted((j for j in range(len(batch)) if fixed_l[j] < 0), key=lambda j: (old[j], j)):
        s = profile.earliest(u[j], d[j], max(r[j], now))
        if s == NEVER or s > old[j]:
            return start  # cannot happen (see above); keep the solver's plan
        profile.add(s, s + d[j], -u[j])
        shifted[j] = s
    return shifted

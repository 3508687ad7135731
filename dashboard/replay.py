"""The simulated cluster: a generated workload, replayed once, seen at one moment.

Stands in for a live Slurm cluster (same tables as `dashboard.live`): which jobs run, which
wait and why in plain words, and utilization over time. Times are trace seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hpc.model import Machine
from hpc.sim import Policy, SimResult, simulate
from hpc.slurm.reasons import pending_reason_text
from hpc.workload.cleaning import clean
from hpc.workload.loading import LoadedWorkload
from hpc.workload.lublin import generate


def generated_workload(jobs: int, seed: int, procs: int) -> LoadedWorkload:
    """A seeded Lublin–Feitelson workload on a processors-only machine of `procs`."""
    trace = generate(jobs, seed=seed, procs=procs)
    machine = Machine.procs_only(procs)
    cleaned, report = clean(trace, machine=machine)
    return LoadedWorkload(trace, machine, cleaned, report)


def replay(loaded: LoadedWorkload, policy: str = "fcfs:easy") -> SimResult:
    return simulate(loaded.jobs, loaded.machine, Policy.parse(policy))


def utilization_series(result: SimResult, points: int = 200) -> list[dict[str, float]]:
    """Busy fraction and pending jobs at `points` evenly spaced moments (hours from the start)."""
    started = result.start_s >= 0
    starts = np.sort(result.start_s[started])
    ends = np.sort(result.end_s[started])
    units_by_start = result.units[started][np.argsort(result.start_s[started], kind="stable")]
    units_by_end = result.units[started][np.argsort(result.end_s[started], kind="stable")]
    cum_start = np.concatenate([[0], np.cumsum(units_by_start)])
    cum_end = np.concatenate([[0], np.cumsum(units_by_end)])
    t0 = int(result.jobs.submit_s.min())
    t1 = int(ends.max()) if len(ends) else t0 + 1
    times = np.linspace(t0, t1, points)
    busy = (
        cum_start[np.searchsorted(starts, times, side="right")]
        - cum_end[np.searchsorted(ends, times, side="right")]
    )
    steps = result.capacity_steps or [(t0, result.machine.units)]
    step_t = np.array([s[0] for s in steps])
    step_c = np.array([s[1] for s in steps], dtype=float)
    cap = step_c[np.clip(np.searchsorted(step_t, times, side="right") - 1, 0, None)]
    frac = np.divide(busy, cap, out=np.zeros_like(cap), where=cap > 0)
    waiting = np.searchsorted(np.sort(result.jobs.submit_s), times, side="right") - np.searchsorted(
        starts, times, side="right"
    )
    return [
        {"hour": (t - t0) / 3600.0, "utilization": float(u), "pending": int(w)}
        for t, u, w in zip(times, frac, waiting, strict=True)
    ]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The replayed cluster at `at_s`: busy units, running jobs and the queue."""

    at_s: int
    capacity: int
    busy: int
    running: list[dict[str, Any]]
    pending: list[dict[str, Any]]


def snapshot(result: SimResult, at_s: int, limit: int = 200) -> Snapshot:
    """What runs and what waits at `at_s`; a waiting job's reason is Slurm's, in plain words:
    Resources when it needs more than is free right now, Priority when others go first."""
    jobs = result.jobs
    submit, start, end = jobs.submit_s, result.start_s, result.end_s
    running = np.flatnonzero((start >= 0) & (start <= at_s) & (end > at_s))
    waiting = np.flatnonzero((submit <= at_s) & ((start > at_s) | (start < 0)))
    busy = int(result.units[running].sum())
    steps = [c for t, c in result.capacity_steps if t <= at_s] or [result.machine.units]
    capacity = int(steps[-1])
    free = capacity - busy
    run_rows = [
        {"job": int(jobs.job_id[i]), "user": int(jobs.user[i]), "units": int(result.units[i]),
         "running_for_s": int(at_s - start[i])}
        for i in running[:limit]
    ]  # fmt: skip
    pend_rows = []
    for i in waiting[np.argsort(submit[waiting], kind="stable")][:limit]:
        code = "Resources" if int(result.units[i]) > free else "Priority"
        pend_rows.append(
            {"job": int(jobs.job_id[i]), "user": int(jobs.user[i]),
             "units": int(result.units[i]), "waiting_s": int(at_s - submit[i]),
             "reason": code, "why": pending_reason_text(code)}
        )  # fmt: skip
    return Snapshot(at_s, capacity, busy, run_rows, pend_rows)


def cluster_workload(jobs: int, seed: int, nodes: int, cores_per_node: int) -> LoadedWorkload:
    """A seeded workload on whole nodes (what node-loss what-ifs need)."""
    machine = Machine.cluster(nodes, cores_per_node)
    trace = generate(jobs, seed=seed, procs=machine.total_procs)
    cleaned, report = clean(trace, machine=machine)
    return LoadedWorkload(trace, machine, cleaned, report)

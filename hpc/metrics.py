"""Scheduling metrics from a `SimResult`: per job, aggregate, per user and per partition.

Bounded slowdown uses the usual 10 s threshold: max((wait + run) / max(run, 10), 1), with
run the time the job actually held its units. Jain's fairness index is taken over users'
mean bounded slowdowns (1.0: every user is slowed down alike). Utilization is used
unit-seconds over available unit-seconds from the first submit to the last end.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from hpc.sim.engine import SimResult
from hpc.sim.state import NODE_FAIL, TIMEOUT

BSLD_THRESHOLD_S = 10

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class JobMetrics:
    """Per-job figures for the jobs that started (arrays aligned with `index`)."""

    index: npt.NDArray[np.int64]  # rows of the JobTable
    wait_s: FloatArray
    response_s: FloatArray
    bsld: FloatArray


@dataclass(frozen=True, slots=True)
class Summary:
    """The aggregate figures every comparison shows."""

    policy: str
    jobs: int
    unstarted: int
    mean_wait_s: float
    median_wait_s: float
    p95_wait_s: float
    max_wait_s: float
    mean_response_s: float
    mean_bsld: float
    utilization: float
    makespan_s: int
    throughput_per_h: float
    jain_fairness: float
    killed_at_limit: int
    killed_by_failure: int
    sim_wall_s: float

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class GroupRow:
    """One user's (or partition's) share of the service."""

    key: int
    jobs: int
    mean_wait_s: float
    mean_bsld: float
    usage_share: float  # fraction of all used unit-seconds

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def job_metrics(result: SimResult) -> JobMetrics:
    """Wait, response and bounded slowdown of every started job."""
    index = np.flatnonzero(result.started)
    submit = result.jobs.submit_s[index].astype(np.float64)
    start = result.start_s[index].astype(np.float64)
    end = result.end_s[index].astype(np.float64)
    wait = start - submit
    run = end - start
    bsld = np.maximum((wait + run) / np.maximum(run, BSLD_THRESHOLD_S), 1.0)
    return JobMetrics(index, wait, end - submit, bsld)


def jain_index(values: FloatArray) -> float:
    """Jain's fairness index of non-negative values: 1 is perfectly even, 1/n the worst."""
    if len(values) == 0:
        return 1.0
    square_sum = float(np.sum(values**2))
    if square_sum == 0.0:
        return 1.0
    return float(np.sum(values) ** 2 / (len(values) * square_sum))


def summarize(result: SimResult) -> Summary:
    """The aggregate metrics of one replay."""

    jm = job_metrics(result)
    n_started = len(jm.index)
    jobs = result.jobs
    first = int(jobs.submit_s[0]) if len(jobs) else 0
    last = int(result.end_s.max()) if n_started else first
    makespan = max(last - first, 0)
    used = float(np.sum(result.units[jm.index] * (jm.response_s - jm.wait_s)))
    available = _capacity_seconds(result.capacity_steps, first, last)
    user_bsld = _group_means(jobs.user[jm.index], jm.bsld)
    return Summary(
        policy=result.policy.name,
        jobs=len(jobs),
        unstarted=len(jobs) - n_started,
        mean_wait_s=_stat(np.mean, jm.wait_s),
        median_wait_s=_stat(np.median, jm.wait_s),
        p95_wait_s=float(np.percentile(jm.wait_s, 95)) if n_started else 0.0,
        max_wait_s=_stat(np.max, jm.wait_s),
        mean_response_s=_stat(np.mean, jm.response_s),
        mean_bsld=_stat(np.mean, jm.bsld),
        utilization=used / available if available > 0 else 0.0,
        makespan_s=makespan,
        throughput_per_h=n_started / (makespan / 3600.0) if makespan else 0.0,
        jain_fairness=jain_index(user_bsld),
        killed_at_limit=int(np.sum(result.state == TIMEOUT)),
        killed_by_failure=int(np.sum(result.state == NODE_FAIL)),
        sim_wall_s=result.wall_s,
    )


def breakdown(result: SimResult, by: str = "user") -> list[GroupRow]:
    """Per-user (`by="user"`) or per-partition (`by="partition"`) rows, largest usage first."""
    if by not in ("user", "partition", "group", "queue"):
        raise ValueError(f"cannot break down by {by!r}")
    jm = job_metrics(result)
    keys = getattr(result.jobs, by)[jm.index]
    used = result.units[jm.index] * (jm.response_s - jm.wait_s)
    total = float(used.sum()) or 1.0
    uniq, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    wait = np.bincount(inverse, jm.wait_s) / counts
    bsld = np.bincount(inverse, jm.bsld) / counts
    share = np.bincount(inverse, used) / total
    rows = [
        GroupRow(int(k), int(c), float(w), float(b), float(s))
        for k, c, w, b, s in zip(uniq, counts, wait, bsld, share, strict=True)
    ]
    return sorted(rows, key=lambda r: (-r.usage_share, r.key))


def _group_means(keys: npt.NDArray[np.int64], values: FloatArray) -> FloatArray:
    if len(keys) == 0:
        return np.zeros(0)
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return np.bincount(inverse, values) / counts


def _capacity_seconds(steps: list[tuple[int, int]], first: int, last: int) -> float:
    """Integral of capacity over [first, last] from (time, capacity) steps."""
    total = 0.0
    for k, (t, cap) in enumerate(steps):
        t_next = steps[k + 1][0] if k + 1 < len(steps) else last
        lo, hi = max(t, first), min(t_next, last)
        if hi > lo:
            total += cap * (hi - lo)
    return total


def _stat(fn: object, values: FloatArray) -> float:
    return float(fn(values)) if len(values) else 0.0  # type: ignore[operator]

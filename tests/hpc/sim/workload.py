"""Tiny hand-written workloads for the simulator tests, and a one-call replay.

A row is `(submit_s, run_s, procs, req_time_s)` or `(submit_s, run_s, procs, req_time_s, user)`;
rows are written in submit order, so a job's index in the result is its row number.
"""

from __future__ import annotations

from collections.abc import Sequence

from hpc.model import Job, JobState, JobTable, Machine
from hpc.sim import CapacityChange, Policy, SimResult, simulate

Row = tuple[int, ...]


def table(rows: Sequence[Row]) -> JobTable:
    """A `JobTable` with job ids 1, 2, ... in row order."""
    jobs = []
    for k, row in enumerate(rows):
        submit, run, procs, req, *rest = row
        user = rest[0] if rest else 0
        jobs.append(Job(k + 1, submit, run, procs, req, user=user))
    return JobTable.from_jobs(jobs)


def replay(
    rows: Sequence[Row],
    machine: Machine,
    policy: str | Policy,
    *,
    changes: Sequence[str] = (),
    kill_at_limit: bool = True,
) -> SimResult:
    """Simulate `rows` on `machine`; `policy` as `ORDER:BACKFILL`, changes as `KIND@TIME:UNITS`."""
    if isinstance(policy, str):
        policy = Policy.parse(policy, kill_at_limit=kill_at_limit)
    return simulate(
        table(rows),
        machine,
        policy,
        capacity_changes=[CapacityChange.parse(c) for c in changes],
    )


def starts(result: SimResult) -> list[int]:
    """Start time of every job in row order (-1: never started)."""
    return [int(s) for s in result.start_s]


def ends(result: SimResult) -> list[int]:
    """End time of every job in row order (-1: never started)."""
    return [int(e) for e in result.end_s]


def states(result: SimResult) -> list[JobState]:
    """Final state of every job in row order."""
    return [result.state_of(k) for k in range(len(result.jobs))]

"""Comparing policies: replay one workload under several policies, and find the Pareto front
of their figures. The CLI's `compare`, the dashboard's what-if and the agent's advice all
use these two, so "the same workload under each policy" means one thing everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from hpc.model import JobTable, Machine
from hpc.sim import CapacityChange, Policy, SimResult, simulate


def replay_policies(
    jobs: JobTable,
    machine: Machine,
    policies: Sequence[Policy],
    *,
    capacity_changes: Sequence[CapacityChange] = (),
    on_start: Callable[[int, Policy], None] | None = None,
) -> list[SimResult]:
    """One replay of `jobs` per policy, in order, under the same capacity changes.

    `on_start(k, policy)` is called before the k-th replay (for progress, or to name the
    policy an error came from); errors propagate unchanged.
    """
    results = []
    for k, policy in enumerate(policies):
        if on_start is not None:
            on_start(k, policy)
        results.append(simulate(jobs, machine, policy, capacity_changes=tuple(capacity_changes)))
    return results


def pareto_front(rows: Sequence[Mapping[str, float]], objectives: Mapping[str, bool]) -> list[int]:
    """Indices of the rows no other row dominates, in their order.

    `objectives`: figure name -> True where lower is better (wait), False where higher is
    (utilization). A row dominates another when it is no worse on every objective and
    differs on at least one; equal rows do not dominate each other.
    """
    keys = [
        tuple(float(r[name]) if lower else -float(r[name]) for name, lower in objectives.items())
        for r in rows
    ]
    return [
        i
        for i, ki in enumerate(keys)
        if not any(
            kj != ki and all(a <= b for a, b in zip(kj, ki, strict=True))
            for j, kj in enumerate(keys)
            if j != i
        )
    ]

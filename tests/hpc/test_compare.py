"""Comparing policies: one replay per policy, and the Pareto front of their figures."""

from __future__ import annotations

from hpc.compare import pareto_front, replay_policies
from hpc.model import Machine
from hpc.sim import Policy, simulate
from tests.hpc.sim.workload import table


def test_the_front_keeps_undominated_rows_in_either_sense() -> None:
    rows = [
        {"wait": 1.0, "util": 0.5},
        {"wait": 2.0, "util": 0.9},
        {"wait": 3.0, "util": 0.4},  # worse than the first on both
        {"wait": 1.0, "util": 0.5},  # equal rows do not dominate each other
    ]
    assert pareto_front(rows, {"wait": True, "util": False}) == [0, 1, 3]
    assert pareto_front(rows, {"wait": False}) == [2]


def test_replaying_each_policy_equals_replaying_them_one_by_one() -> None:
    # (submit s, run s, procs, requested s): a wide job blocks, short ones may backfill
    jobs = table([(0, 100, 4, 100), (1, 50, 8, 60), (2, 10, 2, 10), (3, 5, 4, 20)])
    machine = Machine.procs_only(8)
    policies = [Policy.parse("fcfs:none"), Policy.parse("sjf:easy")]
    seen: list[str] = []
    results = replay_policies(jobs, machine, policies, on_start=lambda k, p: seen.append(p.name))
    assert seen == ["fcfs:none", "sjf:easy"]
    for policy, result in zip(policies, results, strict=True):
        assert (result.start_s == simulate(jobs, machine, policy).start_s).all()

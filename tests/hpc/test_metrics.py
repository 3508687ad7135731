"""Scheduling metrics on small replays whose figures are worked out by hand.

Bounded slowdown: max((wait + run) / max(run, 10 s), 1), run being the time the job held its
units. Utilization: used unit-seconds over available unit-seconds from the first submit to
the last end. Jain's index over users' mean bounded slowdowns: 1 even, 1/n worst.
"""

from __future__ import annotations

import numpy as np
import pytest

from hpc.metrics import BSLD_THRESHOLD_S, GroupRow, breakdown, jain_index, job_metrics, summarize
from hpc.model import Job, JobTable, Machine
from hpc.sim import CapacityChange, Policy, SimResult, simulate
from tests.hpc.sim.workload import replay

# 2 procs, FCFS without backfilling. Rows: (submit_s, run_s, procs, req_time_s, user).
#   J0 user 1: 0..100 on both procs       wait 0   run 100  bsld 100/100        = 1
#   J1 user 2: submitted 50, runs 100..105 wait 50  run 5    bsld (50+5)/10      = 5.5
#   J2 user 2: submitted 60, runs 100..120 wait 40  run 20   bsld (40+20)/20     = 3
THREE_JOBS = [(0, 100, 2, 100, 1), (50, 5, 1, 5, 2), (60, 20, 1, 20, 2)]


@pytest.fixture(scope="module")
def three_jobs() -> SimResult:
    result = replay(THREE_JOBS, Machine.procs_only(2), "fcfs:none")
    assert result.start_s.tolist() == [0, 100, 100]
    return result


def test_the_threshold_is_ten_seconds() -> None:
    assert BSLD_THRESHOLD_S == 10


def test_job_metrics_give_wait_response_and_bounded_slowdown(three_jobs: SimResult) -> None:
    jm = job_metrics(three_jobs)
    assert jm.index.tolist() == [0, 1, 2]
    assert jm.wait_s.tolist() == [0.0, 50.0, 40.0]
    assert jm.response_s.tolist() == [100.0, 55.0, 60.0]
    assert jm.bsld.tolist() == pytest.approx([1.0, 5.5, 3.0])


def test_summary_of_a_hand_computed_replay(three_jobs: SimResult) -> None:
    s = summarize(three_jobs)
    assert s.policy == "fcfs:none"
    assert (s.jobs, s.unstarted) == (3, 0)
    assert s.mean_wait_s == pytest.approx(30.0)
    assert s.median_wait_s == pytest.approx(40.0)
    assert s.p95_wait_s == pytest.approx(49.0)  # linear between 40 and 50 at 0.95 * 2 = 1.9
    assert s.max_wait_s == pytest.approx(50.0)
    assert s.mean_response_s == pytest.approx(215.0 / 3)
    assert s.mean_bsld == pytest.approx(9.5 / 3)
    # Used: 2 x 100 + 1 x 5 + 1 x 20 = 225 proc-seconds of 2 x 120 available.
    assert s.utilization == pytest.approx(225.0 / 240.0)
    assert s.makespan_s == 120
    assert s.throughput_per_h == pytest.approx(3 / (120 / 3600))
    # Users' mean bsld: user 1 1.0, user 2 (5.5 + 3) / 2 = 4.25.
    assert s.jain_fairness == pytest.approx(5.25**2 / (2 * (1.0**2 + 4.25**2)))
    assert (s.killed_at_limit, s.killed_by_failure) == (0, 0)


def test_per_user_breakdown_is_ordered_by_usage(three_jobs: SimResult) -> None:
    # User 1 used 2 x 100 = 200 of the 225 proc-seconds, user 2 5 + 20 = 25.
    assert breakdown(three_jobs, by="user") == [
        GroupRow(key=1, jobs=1, mean_wait_s=0.0, mean_bsld=1.0, usage_share=pytest.approx(8 / 9)),
        GroupRow(key=2, jobs=2, mean_wait_s=45.0, mean_bsld=4.25, usage_share=pytest.approx(1 / 9)),
    ]


def test_breakdown_by_partition() -> None:
    jobs = JobTable.from_jobs(
        [
            Job(1, 0, 10, 1, 10, user=1, partition=7),
            Job(2, 0, 30, 1, 30, user=1, partition=8),
            Job(3, 0, 10, 2, 10, user=2, partition=7),
        ]
    )
    result = simulate(jobs, Machine.procs_only(4), Policy.parse("fcfs:none"))
    # Partition 7: 1 x 10 + 2 x 10 = 30 proc-seconds, partition 8: 30; ties by key.
    assert [(r.key, r.jobs, r.usage_share) for r in breakdown(result, by="partition")] == [
        (7, 2, 0.5),
        (8, 1, 0.5),
    ]


def test_breakdown_rejects_an_unknown_key(three_jobs: SimResult) -> None:
    with pytest.raises(ValueError, match="cannot break down by"):
        breakdown(three_jobs, by="colour")


def test_short_jobs_are_measured_against_ten_seconds_and_slowdown_is_at_least_one() -> None:
    # 1 proc. J1 (2 s) waits 28 s: (28 + 2) / 10 = 3, not 30 / 2 = 15. J2 (3 s) waits 29 s:
    # 32 / 10 = 3.2. J3 (3 s) runs at once: 3 / 10 = 0.3, raised to 1.
    rows = [(0, 30, 1, 30), (2, 2, 1, 2), (3, 3, 1, 3), (100, 3, 1, 3)]
    jm = job_metrics(replay(rows, Machine.procs_only(1), "fcfs:none"))
    assert jm.wait_s.tolist() == [0.0, 28.0, 29.0, 0.0]
    assert jm.bsld.tolist() == pytest.approx([1.0, 3.0, 3.2, 1.0])


def test_slowdown_counts_the_time_a_killed_job_held_its_units() -> None:
    # J0 asks for 20 s but would run 100: killed at 20, so its run is 20. J1 waits 15 s for
    # it and runs 20: (15 + 20) / 20 = 1.75.
    rows = [(0, 100, 1, 20), (5, 20, 1, 20)]
    result = replay(rows, Machine.procs_only(1), "fcfs:none")
    jm = job_metrics(result)
    assert jm.response_s.tolist() == [20.0, 35.0]
    assert jm.bsld.tolist() == pytest.approx([1.0, 1.75])
    assert summarize(result).killed_at_limit == 1


def test_utilization_counts_only_the_capacity_that_was_there() -> None:
    # 4 procs, 2 drained at 50; J0 holds 2 procs 0..100. Used 200 of 4 x 50 + 2 x 50 = 300.
    jobs = JobTable.from_jobs([Job(1, 0, 100, 2, 100)])
    result = simulate(
        jobs,
        Machine.procs_only(4),
        Policy.parse("fcfs:easy"),
        capacity_changes=[CapacityChange.parse("drain@50:2")],
    )
    assert summarize(result).utilization == pytest.approx(200 / 300)


def test_makespan_runs_from_the_first_submit() -> None:
    # The trace starts at 1000; the last job ends at 1000 + 10 + 30 = 1040.
    rows = [(1000, 10, 1, 10), (1001, 30, 1, 30)]
    s = summarize(replay(rows, Machine.procs_only(1), "fcfs:none"))
    assert s.makespan_s == 40
    assert s.utilization == pytest.approx(1.0)


def test_failures_and_unstarted_jobs_are_counted_apart() -> None:
    # 2 procs, 1 fails at 5 for good. J0 and J1 both started at 0: the later in the trace
    # (J1) is killed. J0 is killed at its 10 s limit. J2 needs 2 procs and never starts, so
    # it is left out of the waits.
    rows = [(0, 50, 1, 10), (0, 50, 1, 50), (1, 10, 2, 10)]
    result = replay(rows, Machine.procs_only(2), "fcfs:easy", changes=["fail@5:1"])
    s = summarize(result)
    assert (s.jobs, s.unstarted) == (3, 1)
    assert (s.killed_at_limit, s.killed_by_failure) == (1, 1)
    assert s.max_wait_s == 0.0


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([2.0, 2.0, 2.0, 2.0], 1.0),  # everyone slowed down alike
        ([5.0, 0.0, 0.0, 0.0], 1 / 4),  # one user takes all: 1/n
        ([3.0, 0.0], 1 / 2),
        ([1.0, 2.0, 3.0], 36 / 42),  # (1 + 2 + 3)^2 / (3 x (1 + 4 + 9))
        ([], 1.0),
        ([0.0, 0.0], 1.0),
    ],
)
def test_jain_index(values: list[float], expected: float) -> None:
    assert jain_index(np.array(values, dtype=np.float64)) == pytest.approx(expected)


def test_equal_service_gives_jain_index_one() -> None:
    # Two users, one job each, identical and run side by side: both bsld 1.
    rows = [(0, 20, 1, 20, 1), (0, 20, 1, 20, 2)]
    assert summarize(replay(rows, Machine.procs_only(2), "fcfs:none")).jain_fairness == 1.0

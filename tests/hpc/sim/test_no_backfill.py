"""Strict queue order (`fcfs:none`): jobs start in order while they fit; none passes the head.

Every case is a tiny workload with the start time of each job worked out by hand.
Rows are (submit_s, run_s, procs, req_time_s).
"""

from __future__ import annotations

from hpc.model import JobState, Machine
from tests.hpc.sim.workload import ends, replay, starts, states

COMPLETED, TIMEOUT = JobState.COMPLETED, JobState.TIMEOUT


def test_a_blocked_head_holds_back_a_job_that_would_fit() -> None:
    # J1 needs all 4 procs and waits for J0's end at 10; J2 fits at t=2 (2 free) but may
    # not pass J1, and once J1 holds the machine it waits for J1's end at 15.
    rows = [(0, 10, 2, 10), (1, 5, 4, 5), (2, 1, 1, 1)]
    assert starts(replay(rows, Machine.procs_only(4), "fcfs:none")) == [0, 10, 15]


def test_jobs_start_in_order_while_they_fit() -> None:
    # At t=10 J0's 4 procs come back: J1 (1), J2 (2) and J3 (1) start in one pass, using
    # all 4; J4 (1 proc) finds none left and waits for the first of them to end (15).
    rows = [(0, 10, 4, 10), (1, 5, 1, 5), (2, 5, 2, 5), (3, 5, 1, 5), (4, 5, 1, 5)]
    assert starts(replay(rows, Machine.procs_only(4), "fcfs:none")) == [0, 10, 10, 10, 15]


def test_a_job_submitted_when_another_ends_uses_its_units_that_second() -> None:
    # Completions are handled before submissions at the same timestamp, so J1 (submitted
    # at 10, when J0 ends) finds the whole machine free.
    rows = [(0, 10, 2, 10), (10, 5, 2, 5)]
    assert starts(replay(rows, Machine.procs_only(2), "fcfs:none")) == [0, 10]


def test_units_come_back_at_the_actual_end_not_the_requested_one() -> None:
    # J0 asked for 50 s but ends after 5: J1 starts at 5, not at 50.
    rows = [(0, 5, 2, 50), (1, 5, 2, 5)]
    result = replay(rows, Machine.procs_only(2), "fcfs:none")
    assert starts(result) == [0, 5]
    assert ends(result) == [5, 10]
    assert states(result) == [COMPLETED, COMPLETED]


def test_a_job_running_past_its_request_is_killed_at_the_limit() -> None:
    # J0 asked for 30 s but would run 100: it is killed at 30 (TIMEOUT) and J1 starts then.
    rows = [(0, 100, 2, 30), (5, 10, 1, 10)]
    result = replay(rows, Machine.procs_only(2), "fcfs:none")
    assert starts(result) == [0, 30]
    assert ends(result) == [30, 40]
    assert states(result) == [TIMEOUT, COMPLETED]


def test_without_kill_at_limit_an_overrunning_job_runs_to_its_end() -> None:
    # Same workload with kill_at_limit off: J0 runs its full 100 s and completes normally.
    rows = [(0, 100, 2, 30), (5, 10, 1, 10)]
    result = replay(rows, Machine.procs_only(2), "fcfs:none", kill_at_limit=False)
    assert starts(result) == [0, 100]
    assert ends(result) == [100, 110]
    assert states(result) == [COMPLETED, COMPLETED]


def test_nodes_are_allocated_whole_on_a_cluster() -> None:
    # 3 nodes x 4 cores: J0 (5 procs) takes 2 nodes, J1 (4 procs) the third; J2 (1 proc)
    # still needs a whole node and waits for J0's end at 10.
    rows = [(0, 10, 5, 10), (0, 20, 4, 20), (0, 5, 1, 5)]
    result = replay(rows, Machine.cluster(3, 4), "fcfs:none")
    assert [int(u) for u in result.units] == [2, 1, 1]
    assert starts(result) == [0, 0, 10]


def test_the_same_jobs_share_processors_on_a_processors_only_machine() -> None:
    # The previous workload on 12 interchangeable processors: 5 + 4 + 1 fit at once.
    rows = [(0, 10, 5, 10), (0, 20, 4, 20), (0, 5, 1, 5)]
    result = replay(rows, Machine.procs_only(12), "fcfs:none")
    assert [int(u) for u in result.units] == [5, 4, 1]
    assert starts(result) == [0, 0, 0]


def test_the_machine_idles_while_the_head_waits_for_enough_units() -> None:
    # J0 and J1 (1 proc each) end at 10 and 20; J2 needs 3 of 3 procs and waits for both,
    # and J3, though 1 proc is free from 10 on, waits behind it (J2 ends at 25).
    rows = [(0, 10, 1, 10), (0, 20, 1, 20), (1, 5, 3, 5), (2, 1, 1, 1)]
    assert starts(replay(rows, Machine.procs_only(3), "fcfs:none")) == [0, 0, 20, 25]

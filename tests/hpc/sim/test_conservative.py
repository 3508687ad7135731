"""Conservative backfilling (`fcfs:conservative`): every waiting job holds a reservation.

A job arriving gets the earliest slot of the availability profile (running jobs until their
requested ends, plus every earlier reservation), so no later arrival can delay it. When a
job ends before its request the schedule is compressed: waiting jobs move to their earliest
slot, never later. Each case's start times are worked out by hand.
Rows are (submit_s, run_s, procs, req_time_s).
"""

from __future__ import annotations

from hpc.model import JobState, Machine
from tests.hpc.sim.workload import ends, replay, starts, states

# Head J1 (3 of 4 procs) can start at 10; J2 (all 4) at 20, when J1 ends; J3 (1 proc, 30 s)
# arrives at 3, when 1 proc is free until J2's slot.
SECOND_WAITER = [(0, 10, 3, 10), (1, 10, 3, 10), (2, 10, 4, 10), (3, 30, 1, 30)]


def test_a_reservation_protects_the_second_waiting_job() -> None:
    # J3 would overlap J2's reservation [20, 30) if it started at 3, so it is reserved
    # after it, at 30; J2 starts at 20 as promised at its arrival.
    result = replay(SECOND_WAITER, Machine.procs_only(4), "fcfs:conservative")
    assert starts(result) == [0, 10, 20, 30]


def test_easy_and_conservative_differ_on_the_second_waiting_job() -> None:
    # EASY protects only the head (J1 at 10): J3 backfills on the extra unit at 3 and
    # pushes J2 from 20 to 33. Conservative keeps J2 at 20 and makes J3 wait.
    machine = Machine.procs_only(4)
    easy = replay(SECOND_WAITER, machine, "fcfs:easy")
    conservative = replay(SECOND_WAITER, machine, "fcfs:conservative")
    assert starts(easy) == [0, 10, 33, 3]
    assert starts(conservative) == [0, 10, 20, 30]


def test_a_job_backfills_into_a_hole_before_the_reservations() -> None:
    # J1 (all 4) is reserved at 10. J2 (2 procs, 8 s) fits the hole [2, 10) beside J0
    # and starts at once. J3 (1 proc) finds nothing free before J1 ends and gets 20.
    rows = [(0, 10, 2, 10), (1, 10, 4, 10), (2, 8, 2, 8), (3, 5, 1, 5)]
    assert starts(replay(rows, Machine.procs_only(4), "fcfs:conservative")) == [0, 10, 2, 20]


def test_an_early_completion_compresses_the_schedule() -> None:
    # J0 asked for 20 s, so J1 and J2 (2 procs each) are reserved at 20 and J3 (all 4) at
    # 30. J0 ends at 5: J1 and J2 move up to 5 and J3 to 15, when they end.
    rows = [(0, 5, 4, 20), (1, 10, 2, 10), (2, 10, 2, 10), (3, 10, 4, 10)]
    assert starts(replay(rows, Machine.procs_only(4), "fcfs:conservative")) == [0, 5, 5, 15]


def test_without_early_completions_jobs_start_at_their_reservations() -> None:
    # The same workload with exact requests: J1 and J2 run at 20, J3 at 30, as reserved.
    rows = [(0, 20, 4, 20), (1, 10, 2, 10), (2, 10, 2, 10), (3, 10, 4, 10)]
    assert starts(replay(rows, Machine.procs_only(4), "fcfs:conservative")) == [0, 20, 20, 30]


def test_a_job_submitted_when_another_ends_early_uses_its_units() -> None:
    # J0 asked for 10 s but ends at 4, the second J1 arrives: the completion is handled
    # first, so J1's reservation is 4, not 10.
    rows = [(0, 4, 2, 10), (4, 5, 2, 5)]
    assert starts(replay(rows, Machine.procs_only(2), "fcfs:conservative")) == [0, 4]


def test_a_job_overrunning_its_request_is_killed_at_the_limit() -> None:
    # J0 would run 100 s on a 10 s request: killed at 10 (TIMEOUT), exactly when J1 was
    # reserved, so J1 starts on time.
    rows = [(0, 100, 4, 10), (1, 10, 4, 10)]
    result = replay(rows, Machine.procs_only(4), "fcfs:conservative")
    assert starts(result) == [0, 10]
    assert ends(result) == [10, 20]
    assert states(result) == [JobState.TIMEOUT, JobState.COMPLETED]


def test_reservations_count_whole_nodes_on_a_cluster() -> None:
    # 2 nodes x 4 cores. J1 (8 procs = 2 nodes) is reserved at 10; J2 (1 proc, 8 s) takes
    # the free node in [2, 10); J3 (2 procs) needs a node too and gets 20, after J1.
    rows = [(0, 10, 4, 10), (1, 10, 8, 10), (2, 8, 1, 8), (3, 5, 2, 5)]
    assert starts(replay(rows, Machine.cluster(2, 4), "fcfs:conservative")) == [0, 10, 2, 20]


def test_a_later_short_job_cannot_take_an_earlier_reservation() -> None:
    # On 1 proc: J1 (20 s) is reserved at 10 on arrival; J2 (1 s) arriving later gets 30,
    # even though a short job first would cost J1 only 1 s (FCFS reservations are firm).
    rows = [(0, 10, 1, 10), (1, 20, 1, 20), (2, 1, 1, 1)]
    assert starts(replay(rows, Machine.procs_only(1), "fcfs:conservative")) == [0, 10, 30]


def test_a_job_starts_at_a_reservation_where_no_other_job_ends() -> None:
    # 3 procs. On arrival J1 (1 proc) is reserved at 5, J2 (3 procs) at 7 and J3 (2 procs,
    # arriving at 2) at 5. J0 ends at 3 instead of 5: compressing in queue order, J1 moves to
    # 3, J2 to 6 (J3 still holds [5, 6)), then J3 to 3. No job ends at 6, but J2 must
    # start there: a reservation is a promise, whether or not an event falls on it.
    rows = [(0, 3, 3, 5), (0, 2, 1, 2), (0, 2, 3, 2), (2, 1, 2, 1)]
    assert starts(replay(rows, Machine.procs_only(3), "fcfs:conservative")) == [0, 3, 6, 3]


def test_a_job_is_not_held_past_its_reservation_by_a_missing_event() -> None:
    # 2 procs, SJF. J1 (1 proc, req 4) is reserved at 3, J2 (2 procs, req 3) at 7. J0 ends
    # at 1: in SJF order J2 goes first and stays at 7 (J1's slot [3, 7) blocks it), then J1
    # moves to 1 and ends at 5. J2 starts at 7 as promised, not at the next arrival (9).
    rows = [(0, 1, 2, 3), (0, 4, 1, 4), (0, 3, 2, 3), (9, 1, 1, 1)]
    assert starts(replay(rows, Machine.procs_only(2), "sjf:conservative")) == [0, 1, 7, 10]


def test_an_overrunning_job_is_noticed_after_another_ended_early() -> None:
    # 3 procs, kill_at_limit off. J0 ends at 2, long before its requested 10. J1 (1 proc)
    # starts at 10 and asked for 1 s but runs until 21. At 13 J1 is past its request, so
    # the plan treats it as ending any second: J2 (3 procs) is reserved after it, and J3
    # (2 procs, 1 s) fits the 2 free procs now and starts at 13. J2 starts when J1 ends.
    rows = [(0, 2, 2, 10), (10, 11, 1, 1), (13, 1, 3, 2), (13, 2, 2, 1)]
    result = replay(rows, Machine.procs_only(3), "fcfs:conservative", kill_at_limit=False)
    assert starts(result) == [0, 10, 21, 13]

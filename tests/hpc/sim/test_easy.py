"""EASY backfilling (`fcfs:easy`): only the queue head holds a reservation.

The blocked head is promised the *shadow time*: the earliest requested end of running jobs
at which enough units are free for it; units free then beyond its need are *extra*. A later
job may start now if it fits the free units and either ends (by its request) by the shadow
time or uses only extra units. Each case's start times are worked out by hand.
Rows are (submit_s, run_s, procs, req_time_s).
"""

from __future__ import annotations

import pytest

from hpc.model import JobState, Machine
from tests.hpc.sim.workload import ends, replay, starts, states


def test_a_job_that_ends_before_the_shadow_time_backfills() -> None:
    # J1 (4 procs) is the blocked head with shadow 10 (J0's requested end), extra 0;
    # J2 fits the 2 free procs at t=2 and ends at 7 <= 10, so it starts at once.
    rows = [(0, 10, 2, 10), (1, 5, 4, 5), (2, 5, 2, 5)]
    assert starts(replay(rows, Machine.procs_only(4), "fcfs:easy")) == [0, 10, 2]


def test_a_job_that_would_delay_the_head_is_rejected() -> None:
    # As above but J2 asks for 9 s: 2 + 9 = 11 > shadow 10 and there are no extra units, so
    # it waits, although its actual 5 s would have fitted: policies see requests only.
    # J1 holds the machine from 10 to 15, then J2 runs.
    rows = [(0, 10, 2, 10), (1, 5, 4, 5), (2, 5, 2, 9)]
    assert starts(replay(rows, Machine.procs_only(4), "fcfs:easy")) == [0, 10, 15]


def test_a_job_ending_exactly_at_the_shadow_time_backfills() -> None:
    # Head J1 has shadow 10; J2 starts at 5 and ends at 5 + 5 = 10: "by" the shadow time
    # includes it. At 10 J0 and J2 end together and J1 starts on time.
    rows = [(0, 10, 2, 10), (1, 10, 4, 10), (5, 5, 2, 5)]
    assert starts(replay(rows, Machine.procs_only(4), "fcfs:easy")) == [0, 10, 5]


def test_a_long_job_backfills_on_extra_units_only_while_they_last() -> None:
    # 6 procs. Head J1 (5) has shadow 10, when 2 free + J0's 4 = 6 are free: extra 1.
    # J2 (1 proc, ends long after 10) takes the extra unit at t=2; J3, identical, finds
    # none left and waits until J1 (10..20) ends.
    rows = [(0, 10, 4, 10), (1, 10, 5, 10), (2, 100, 1, 100), (3, 100, 1, 100)]
    assert starts(replay(rows, Machine.procs_only(6), "fcfs:easy")) == [0, 10, 2, 20]


def test_a_job_too_big_for_the_free_units_is_skipped_and_a_later_one_backfills() -> None:
    # Head J1 (4) waits for 10; 1 proc is free. J2 needs 2 and is passed over; J3 (1 proc,
    # ends at 8 <= 10) backfills at 3. J2 then waits behind J1 (10..20).
    rows = [(0, 10, 3, 10), (1, 10, 4, 10), (2, 2, 2, 2), (3, 5, 1, 5)]
    assert starts(replay(rows, Machine.procs_only(4), "fcfs:easy")) == [0, 10, 20, 3]


def test_the_head_starts_early_when_running_jobs_end_before_their_requests() -> None:
    # J0 asked for 20 s but ends at 5: the head J1 starts at 5, before its shadow time 20.
    rows = [(0, 5, 4, 20), (1, 5, 4, 5)]
    assert starts(replay(rows, Machine.procs_only(4), "fcfs:easy")) == [0, 5]


def test_a_job_submitted_when_another_ends_starts_that_second() -> None:
    # J0 ends at 10 and J1 arrives at 10: completions come before submissions.
    rows = [(0, 10, 4, 10), (10, 5, 4, 5)]
    assert starts(replay(rows, Machine.procs_only(4), "fcfs:easy")) == [0, 10]


def test_easy_lets_a_backfilled_job_delay_the_second_waiting_job() -> None:
    # Head J1 (3 procs) has shadow 10 with extra 1. J3 (1 proc, 30 s) takes that extra unit
    # at t=3 and runs to 33. J1 still starts at 10, but J2 (all 4 procs), which could have
    # run at 20, when J1 ends, now waits until J3 ends at 33.
    rows = [(0, 10, 3, 10), (1, 10, 3, 10), (2, 10, 4, 10), (3, 30, 1, 30)]
    assert starts(replay(rows, Machine.procs_only(4), "fcfs:easy")) == [0, 10, 33, 3]


def test_a_backfilled_job_overrunning_its_request_is_killed_at_the_limit() -> None:
    # J2 backfills at 2 on a 5 s request (ends by shadow 10) but would run 50 s: it is
    # killed at 7 (TIMEOUT), which is what keeps the head's reservation safe.
    rows = [(0, 10, 2, 10), (1, 5, 4, 5), (2, 50, 2, 5)]
    result = replay(rows, Machine.procs_only(4), "fcfs:easy")
    assert starts(result) == [0, 10, 2]
    assert ends(result) == [10, 15, 7]
    assert states(result) == [JobState.COMPLETED, JobState.COMPLETED, JobState.TIMEOUT]


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        # 2 nodes x 4 cores: J0 holds one node, J1 (5 procs = 2 nodes) waits for 10. J2
        # (3 procs, ends 7 <= 10) backfills on the last node; J3 (1 proc) then finds no
        # free node, at 7 it would end at 12 > 10, so it waits for J1 (10..20).
        (Machine.cluster(2, 4), [0, 10, 2, 20]),
        # 8 processors: J1 (5) waits for 10 (extra 3); J2 (3) and J3 (1) both fit the 4
        # free processors and end by 10, so both backfill at once.
        (Machine.procs_only(8), [0, 10, 2, 3]),
    ],
    ids=["2x4-cluster", "8-procs"],
)
def test_whole_node_allocation_leaves_less_room_to_backfill(
    machine: Machine, expected: list[int]
) -> None:
    rows = [(0, 10, 4, 10), (1, 10, 5, 10), (2, 5, 3, 5), (3, 5, 1, 5)]
    assert starts(replay(rows, machine, "fcfs:easy")) == expected


def test_extra_units_count_every_job_ending_at_the_shadow_time() -> None:
    # 5 procs. J0 and J1 (2 procs each) both end at 10; head J2 (3) gets shadow 10, when
    # 1 + 2 + 2 = 5 procs are free: extra 2. J3 (1 proc, 100 s) fits the free proc and
    # uses 1 <= 2 extra units, so it backfills at 2; J2 still starts at 10 (3 + 1 <= 5).
    rows = [(0, 10, 2, 10), (0, 10, 2, 10), (1, 10, 3, 10), (2, 100, 1, 100)]
    assert starts(replay(rows, Machine.procs_only(5), "fcfs:easy")) == [0, 0, 10, 2]


def test_jobs_arriving_in_the_same_second_are_backfilled_in_queue_order() -> None:
    # 3 procs, sjf:easy. J0 (2 procs) runs 0..10; head J1 (2 procs, req 2) has shadow 10,
    # extra 1. J2 (req 8) and J3 (req 4) arrive together at 5; in SJF order J3 comes first,
    # ends at 9 <= 10 and takes the free proc. At 9 J2 backfills on the extra unit; at 10
    # J1 starts on time.
    rows = [(0, 10, 2, 10), (1, 2, 2, 2), (5, 8, 1, 8), (5, 4, 1, 4)]
    assert starts(replay(rows, Machine.procs_only(3), "sjf:easy")) == [0, 10, 9, 5]

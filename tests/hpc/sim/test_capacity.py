"""Capacity changes: failures kill jobs, drains let them finish, returns give units back.

Changes are written `KIND@TIME:UNITS` (nodes, or processors on a processors-only machine).
At one timestamp the engine handles completions, then capacity changes, then submissions.
Rows are (submit_s, run_s, procs, req_time_s).
"""

from __future__ import annotations

import pytest

from hpc.errors import SimulationError
from hpc.model import JobState, Machine
from hpc.sim import CapacityChange, CapacityKind
from tests.hpc.sim.workload import ends, replay, starts, states

COMPLETED, NODE_FAIL, PENDING = JobState.COMPLETED, JobState.NODE_FAIL, JobState.PENDING
MODES = ["fcfs:none", "fcfs:easy", "fcfs:conservative"]


def test_capacity_change_parses_kind_time_and_units() -> None:
    assert CapacityChange.parse("fail@100:2") == CapacityChange(100, CapacityKind.FAIL, 2)
    assert CapacityChange.parse("Drain@5:1").kind is CapacityKind.DRAIN
    assert CapacityChange.parse("return@7:3") == CapacityChange(7, CapacityKind.RETURN, 3)


@pytest.mark.parametrize("text", ["fail@100", "explode@1:2", "fail@x:2", "fail@1:0"])
def test_malformed_capacity_changes_are_rejected(text: str) -> None:
    with pytest.raises(SimulationError):
        CapacityChange.parse(text)


@pytest.mark.parametrize("policy", MODES)
def test_a_failure_kills_the_most_recently_started_job(policy: str) -> None:
    # 4 procs: J0 (2) from 0, J1 (2) from 5. Losing 2 procs at 10 leaves room for one of
    # them: J1, started last, is killed at 10 (NODE_FAIL); J0 completes at 100.
    rows = [(0, 100, 2, 100), (5, 100, 2, 100)]
    result = replay(rows, Machine.procs_only(4), policy, changes=["fail@10:2"])
    assert starts(result) == [0, 5]
    assert ends(result) == [100, 10]
    assert states(result) == [COMPLETED, NODE_FAIL]


def test_a_failure_on_idle_units_kills_nothing() -> None:
    # J0 holds 2 of 4 procs; the 2 that fail at 10 are idle ones.
    result = replay([(0, 100, 2, 100)], Machine.procs_only(4), "fcfs:easy", changes=["fail@10:2"])
    assert states(result) == [COMPLETED]
    assert ends(result) == [100]


@pytest.mark.parametrize("policy", MODES)
def test_a_drain_lets_running_jobs_finish_but_shrinks_the_machine(policy: str) -> None:
    # J0 holds all 4 procs when 2 drain at 10: it still completes at 50. Then only 2
    # procs remain: J1 (2) runs 50..60 and J2 (1) must wait for it (without the drain
    # both would start at 50).
    rows = [(0, 50, 4, 50), (20, 10, 2, 10), (21, 10, 1, 10)]
    drained = replay(rows, Machine.procs_only(4), policy, changes=["drain@10:2"])
    assert states(drained) == [COMPLETED, COMPLETED, COMPLETED]
    assert starts(drained) == [0, 50, 60]
    assert starts(replay(rows, Machine.procs_only(4), policy)) == [0, 50, 50]


@pytest.mark.parametrize("policy", MODES)
def test_returned_units_are_used_at_once(policy: str) -> None:
    # 2 of 4 procs drain at 0, before the submissions of that second: J0 (2) starts, J1 (2)
    # waits; the 2 procs return at 5 and J1 starts then.
    rows = [(0, 10, 2, 10), (0, 10, 2, 10)]
    result = replay(rows, Machine.procs_only(4), policy, changes=["drain@0:2", "return@5:2"])
    assert starts(result) == [0, 5]


@pytest.mark.parametrize("policy", MODES)
def test_a_job_too_big_for_the_shrunk_machine_waits_for_the_return(policy: str) -> None:
    # 2 of 4 procs fail at 5; J0 (4 procs) arrives at 6 and can only start when they
    # come back at 20.
    rows = [(6, 10, 4, 10)]
    changes = ["fail@5:2", "return@20:2"]
    assert starts(replay(rows, Machine.procs_only(4), policy, changes=changes)) == [20]


@pytest.mark.parametrize(
    ("policy", "expected_j2"),
    [
        # Strict order: J2 is stuck behind J1 forever.
        ("fcfs:none", -1),
        # The head J1 cannot run at all, so it holds no reservation and J2 starts at once.
        ("fcfs:easy", 7),
        ("fcfs:conservative", 7),
    ],
)
def test_a_job_never_starts_when_its_capacity_is_lost_for_good(
    policy: str, expected_j2: int
) -> None:
    # 2 of 4 procs fail at 5, killing J0 (all 4 procs) then. J1 needs 4 procs and never
    # starts: start and end -1, state PENDING.
    rows = [(0, 10, 4, 10), (6, 10, 4, 10), (7, 10, 2, 10)]
    result = replay(rows, Machine.procs_only(4), policy, changes=["fail@5:2"])
    assert starts(result) == [0, -1, expected_j2]
    assert ends(result)[:2] == [5, -1]
    assert states(result)[:2] == [NODE_FAIL, PENDING]
    assert not bool(result.started[1])


def test_failures_count_nodes_on_a_cluster() -> None:
    # 3 nodes x 4 cores: J0 (8 procs = 2 nodes) from 0, J1 (4 procs = 1 node) from 1. One
    # node fails at 5: J1, started last, dies; J2 (1 node) then waits for J0's end at 100.
    rows = [(0, 100, 8, 100), (1, 100, 4, 100), (2, 10, 1, 10)]
    result = replay(rows, Machine.cluster(3, 4), "fcfs:easy", changes=["fail@5:1"])
    assert states(result)[:2] == [COMPLETED, NODE_FAIL]
    assert ends(result)[1] == 5
    assert starts(result) == [0, 1, 100]


def test_capacity_steps_record_every_change() -> None:
    rows = [(0, 100, 1, 100)]
    changes = ["fail@10:2", "drain@20:1", "return@30:3"]
    result = replay(rows, Machine.procs_only(4), "fcfs:easy", changes=changes)
    assert result.capacity_steps == [(0, 4), (10, 2), (20, 1), (30, 4)]


def test_a_failure_at_the_second_a_job_ends_kills_nothing() -> None:
    # J0 (all 4 procs) ends at 10, the second 2 procs fail: completions come first, so J0
    # completes normally, and J1 (2 procs, submitted then) runs on what is left.
    rows = [(0, 10, 4, 10), (10, 10, 2, 10)]
    result = replay(rows, Machine.procs_only(4), "fcfs:easy", changes=["fail@10:2"])
    assert states(result) == [COMPLETED, COMPLETED]
    assert starts(result) == [0, 10]


def test_a_return_never_grows_the_machine_beyond_its_size() -> None:
    # Nothing was lost, so returning 2 procs changes nothing: the two 3-proc jobs cannot
    # share the 4-proc machine and run one after the other.
    rows = [(0, 10, 3, 10), (0, 10, 3, 10)]
    result = replay(rows, Machine.procs_only(4), "fcfs:easy", changes=["return@0:2"])
    assert max(cap for _, cap in result.capacity_steps) == 4
    assert starts(result) == [0, 10]


def test_capacity_steps_are_in_time_order_when_a_change_precedes_the_first_job() -> None:
    # 2 of 4 procs fail at 5; the only job arrives at 10, on a 2-proc machine.
    result = replay([(10, 10, 1, 10)], Machine.procs_only(4), "fcfs:easy", changes=["fail@5:2"])
    times = [t for t, _ in result.capacity_steps]
    assert times == sorted(times)
    assert [cap for t, cap in result.capacity_steps if t <= 10][-1] == 2


@pytest.mark.parametrize("policy", MODES)
def test_added_nodes_start_waiting_jobs_when_they_arrive(policy: str) -> None:
    # 2 procs, both held by J0 until 100; J1 (2) waits. 2 procs added at 30 start it then.
    rows = [(0, 100, 2, 100), (10, 50, 2, 50)]
    result = replay(rows, Machine.procs_only(2), policy, changes=["add@30:2"])
    assert starts(result) == [0, 30]
    assert result.capacity_steps[-1] == (30, 4)


def test_added_nodes_drained_again_let_their_jobs_finish() -> None:
    # Added at 0 and drained at 20: J1 runs on them to its end; J2 waits for J0 to end at 100.
    rows = [(0, 100, 2, 100), (0, 50, 2, 50), (30, 10, 2, 10)]
    result = replay(rows, Machine.procs_only(2), "fcfs:easy", changes=["add@0:2", "drain@20:2"])
    assert starts(result) == [0, 0, 100]
    assert states(result) == [COMPLETED, COMPLETED, COMPLETED]


def test_a_return_never_grows_the_machine_beyond_what_was_added() -> None:
    rows = [(0, 10, 1, 10)]
    result = replay(rows, Machine.procs_only(2), "fcfs:easy", changes=["add@0:1", "return@5:4"])
    assert max(c for _, c in result.capacity_steps) == 3

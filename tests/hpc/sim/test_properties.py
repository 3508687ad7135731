"""Properties every replay must have, checked on random small workloads (hypothesis).

Workloads have 1-40 jobs on machines of up to 8 processors or 4 x 4 whole nodes, with
runtimes both shorter and longer than requests. Where a property needs the schedule itself,
it comes from `tests.hpc.sim.reference`, a naive restatement of the rules.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpc.model import IntArray, JobState, JobTable, Machine
from hpc.sim import BackfillMode, CapacityChange, CapacityKind, Policy, QueueOrder, SimResult
from hpc.sim import simulate as simulate_engine
from tests.hpc.sim.reference import ORDERS, Workload, simulate_naively

POLICIES = [f"{o.value}:{b.value}" for o in QueueOrder for b in BackfillMode]
WEEK_S = 7 * 24 * 3600  # multifactor's default half-life: a shift by it rescales usage exactly

Case = tuple[Machine, JobTable]

machines = st.one_of(
    st.integers(1, 8).map(Machine.procs_only),
    st.builds(Machine.cluster, st.integers(1, 4), st.integers(1, 4)),
)


@st.composite
def workloads(draw: st.DrawFn, *, exact: bool = False, same_second: bool = True) -> Case:
    """A machine and 1-40 jobs that fit it; `exact`: every runtime equals its request."""
    machine = draw(machines)
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(0 if same_second else 1, 15),  # gap since the previous submit
                st.integers(1, machine.total_procs),
                st.integers(1, 40),  # requested time
                st.none() if exact else st.one_of(st.none(), st.integers(0, 60)),  # None: = req
                st.integers(0, 2),  # user
            ),
            min_size=1,
            max_size=40,
        )
    )
    first = draw(st.integers(0, 50))
    submit = list(itertools.accumulate((r[0] for r in rows), initial=first))[1:]
    n = len(rows)

    def column(values: list[int]) -> IntArray:
        return np.array(values, dtype=np.int64)

    table = JobTable(
        job_id=np.arange(1, n + 1, dtype=np.int64),
        submit_s=column(submit),
        run_s=column([r[2] if r[3] is None else r[3] for r in rows]),
        procs=column([r[1] for r in rows]),
        req_time_s=column([r[2] for r in rows]),
        user=column([r[4] for r in rows]),
        group=np.full(n, -1, dtype=np.int64),
        queue=np.full(n, -1, dtype=np.int64),
        partition=np.full(n, -1, dtype=np.int64),
        req_mem_kb=np.full(n, -1, dtype=np.int64),
    )
    return machine, table


def simulate(case: Case, policy: str, **options: object) -> SimResult:
    machine, jobs = case
    return simulate_engine(jobs, machine, Policy.parse(policy, **options))


def units_in_use(result: SimResult, t: int) -> int:
    """Units held at second t: jobs with start <= t < end."""
    held = result.started & (result.start_s <= t) & (t < result.end_s)
    return int(result.units[held].sum())


# --- invariants of every policy ------------------------------------------------------


def assert_every_job_starts(result: SimResult) -> None:
    never = np.flatnonzero(~result.started).tolist()
    assert not never, f"jobs {never} never started"


@pytest.mark.parametrize("policy", POLICIES)
@settings(max_examples=30, deadline=None)
@given(case=workloads())
def test_every_job_runs_once_within_capacity_and_is_killed_at_its_limit(
    policy: str, case: Case
) -> None:
    machine, jobs = case
    result = simulate(case, policy)
    assert_every_job_starts(result)
    ran = result.started
    run, req = jobs.run_s[ran], jobs.req_time_s[ran]
    start, end = result.start_s[ran], result.end_s[ran]
    assert (start >= jobs.submit_s[ran]).all(), "no job starts before its submit time"
    np.testing.assert_array_equal(end, start + np.minimum(run, req))
    for k in np.flatnonzero(ran):
        killed = jobs.run_s[k] > jobs.req_time_s[k]
        assert result.state_of(k) is (JobState.TIMEOUT if killed else JobState.COMPLETED)
    for t in set(start.tolist()):
        assert units_in_use(result, t) <= machine.units, f"over capacity at t={t}"


@settings(max_examples=150, deadline=None)
@given(case=workloads(), policy=st.sampled_from(POLICIES))
def test_without_kill_at_limit_every_job_runs_its_full_time(case: Case, policy: str) -> None:
    machine, jobs = case
    result = simulate(case, policy, kill_at_limit=False)
    assert_every_job_starts(result)
    ran = result.started
    start = result.start_s[ran]
    np.testing.assert_array_equal(result.end_s[ran], start + jobs.run_s[ran])
    assert (start >= jobs.submit_s[ran]).all()
    assert all(result.state_of(k) is JobState.COMPLETED for k in np.flatnonzero(ran))
    for t in set(start.tolist()):
        assert units_in_use(result, t) <= machine.units, f"over capacity at t={t}"


@settings(max_examples=150, deadline=None)
@given(case=workloads(), policy=st.sampled_from(POLICIES))
def test_the_same_input_gives_the_same_schedule(case: Case, policy: str) -> None:
    a, b = simulate(case, policy), simulate(case, policy)
    np.testing.assert_array_equal(a.start_s, b.start_s)
    np.testing.assert_array_equal(a.end_s, b.end_s)
    np.testing.assert_array_equal(a.state, b.state)


@settings(max_examples=150, deadline=None)
@given(
    case=workloads(),
    policy=st.sampled_from([p for p in POLICIES if not p.startswith("f1:")]),
)
def test_shifting_every_submit_time_shifts_the_schedule(case: Case, policy: str) -> None:
    """Only relative times matter (F1 is the exception: see test_orders)."""
    machine, jobs = case
    later = dataclasses.replace(jobs, submit_s=jobs.submit_s + WEEK_S)
    a, b = simulate(case, policy), simulate((machine, later), policy)
    np.testing.assert_array_equal(b.start_s, a.start_s + WEEK_S)
    np.testing.assert_array_equal(b.state, a.state)


# --- orders and backfilling ------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(case=workloads())
def test_fcfs_without_backfill_starts_jobs_in_submit_order(case: Case) -> None:
    start = simulate(case, "fcfs:none").start_s
    assert (np.diff(start) >= 0).all(), f"starts {start.tolist()} are not in trace order"


def shadow_as_head(case: Case, result: SimResult, job: int) -> int | None:
    """Under FCFS, the start EASY promises `job` when it becomes head (None: never head).

    It becomes head once every earlier job has started. Running then are the jobs started
    before that second and not yet ended, and the earlier jobs started in that very second
    (even those that end in it, after 0 s); later jobs started then were backfilled after
    the head's reservation was made. The promise is the first requested end of running jobs
    at which enough units are free (or that second).
    """
    machine, jobs = case
    w = Workload.of(jobs, machine)
    start, end = result.start_s.tolist(), result.end_s.tolist()
    became_head = max([w.submit[job], *start[:job]])
    if start[job] < became_head:
        return None  # backfilled before it reached the head
    running = [
        i
        for i in range(len(start))
        if (start[i] < became_head < end[i]) or (start[i] == became_head and i < job)
    ]
    free = w.capacity - sum(w.units[i] for i in running)
    need = w.units[job]
    if need <= free:
        return became_head
    for t in sorted(start[i] + w.req[i] for i in running):
        if free + sum(w.units[i] for i in running if start[i] + w.req[i] <= t) >= need:
            return t
    raise AssertionError("unreachable: the head fits the empty machine")


@settings(max_examples=200, deadline=None)
@given(case=workloads(exact=True))
def test_with_exact_requests_each_easy_head_starts_at_its_shadow_time(case: Case) -> None:
    """Backfilled jobs never delay the head, and nothing ends early to let it start sooner."""
    result = simulate(case, "fcfs:easy")
    for job in range(len(case[1])):
        promised = shadow_as_head(case, result, job)
        if promised is not None:
            assert result.start_s[job] == promised, f"job {job}: promised {promised}"


@settings(max_examples=200, deadline=None)
@given(case=workloads())
def test_easy_backfilling_never_delays_the_queue_head(case: Case) -> None:
    """With early ends and kills at the limit, each head starts by the shadow time it got."""
    result = simulate(case, "fcfs:easy")
    for job in range(len(case[1])):
        promised = shadow_as_head(case, result, job)
        if promised is not None:
            assert result.start_s[job] <= promised, f"job {job}: promised {promised}"


@pytest.mark.parametrize("order", [o.value for o in QueueOrder])
@settings(max_examples=60, deadline=None)
@given(case=workloads(exact=True))
def test_conservative_jobs_start_at_the_reservation_they_got_on_arrival(
    order: str, case: Case
) -> None:
    """With exact requests nothing ends early, so nothing is compressed: each job starts at
    the earliest slot left by all earlier jobs when it arrived, whatever the queue order."""
    machine, jobs = case
    reserved = simulate_naively(Workload.of(jobs, machine), "fcfs", "conservative").reservations
    start = simulate(case, f"{order}:conservative").start_s.tolist()
    assert start == [reserved[k] for k in range(len(jobs))]


@pytest.mark.parametrize("backfill", [b.value for b in BackfillMode])
@pytest.mark.parametrize("order", ORDERS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_the_engine_schedules_like_the_naive_reference(
    order: str, backfill: str, data: st.DataObject
) -> None:
    """Start times equal those of the naive restatement, with early ends and kills."""
    case = data.draw(workloads(same_second=True))
    machine, jobs = case
    expected = simulate_naively(Workload.of(jobs, machine), order, backfill)
    assert simulate(case, f"{order}:{backfill}").start_s.tolist() == expected.start


# --- capacity changes ----------------------------------------------------------------------


@st.composite
def capacity_changes(draw: st.DrawFn, machine: Machine) -> list[CapacityChange]:
    """Up to 4 failures, drains, returns and additions; returns give back at most what was
    lost."""
    lost = 0
    changes = []
    for time in sorted(draw(st.lists(st.integers(0, 300), max_size=4))):
        kind = draw(st.sampled_from(CapacityKind))
        if kind is CapacityKind.ADD:
            units = draw(st.integers(1, machine.units))
        elif kind is CapacityKind.RETURN:
            if lost == 0:
                continue
            units = draw(st.integers(1, lost))
            lost -= units
        else:
            units = draw(st.integers(1, machine.units))
            lost += min(units, machine.units - lost)
        changes.append(CapacityChange(time, kind, units))
    return changes


def capacity_after_each(machine: Machine, changes: list[CapacityChange]) -> list[int]:
    """Capacity in units after each change: losses are capped at what is left."""
    capacity, after = machine.units, []
    for change in changes:
        if change.kind in (CapacityKind.RETURN, CapacityKind.ADD):
            capacity += change.units
        else:
            capacity -= min(change.units, capacity)
        after.append(capacity)
    return after


@pytest.mark.parametrize("policy", [f"fcfs:{b.value}" for b in BackfillMode] + ["sjf:easy"])
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_capacity_changes_never_overcommit_and_kill_only_at_failures(
    policy: str, data: st.DataObject
) -> None:
    machine, jobs = data.draw(workloads())
    changes = data.draw(capacity_changes(machine))
    result = simulate_engine(jobs, machine, Policy.parse(policy), capacity_changes=changes)
    after = capacity_after_each(machine, changes)

    def capacity_at(t: int) -> int:
        return (
            [machine.units] + [a for c, a in zip(changes, after, strict=True) if c.time_s <= t]
        )[-1]

    fail_times = {c.time_s for c in changes if c.kind is CapacityKind.FAIL}
    full = np.minimum(jobs.run_s, jobs.req_time_s)
    for k in range(len(jobs)):
        state, start, end = result.state_of(k), int(result.start_s[k]), int(result.end_s[k])
        if state is JobState.PENDING:
            assert (start, end) == (-1, -1)
        elif state is JobState.NODE_FAIL:
            assert end in fail_times and start <= end <= start + full[k]
        else:
            assert state in (JobState.COMPLETED, JobState.TIMEOUT)
            assert start >= jobs.submit_s[k] and end == start + full[k]
    for t in set(result.start_s[result.started].tolist()):
        assert units_in_use(result, t) <= capacity_at(t), f"overcommitted at t={t}"
    for change, capacity in zip(changes, after, strict=True):
        if change.kind is CapacityKind.FAIL:  # the jobs that survive a failure fit
            t = change.time_s
            survivors = result.started & (result.start_s < t) & (t < result.end_s)
            assert int(result.units[survivors].sum()) <= capacity, f"overcommitted at t={t}"
    if (after or [machine.units])[-1] >= int(result.units.max()):
        assert_every_job_starts(result)  # every job fits the machine as it is left

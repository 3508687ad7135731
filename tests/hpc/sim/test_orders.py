"""Queue orders: which waiting job goes next (without backfilling, so order alone decides).

Each case holds the machine with J0, queues jobs behind it, and checks who starts when J0
ends. Keys follow `hpc.sim.priority` (smallest key first, ties by submit order):
SJF req; WFP3 -(wait/req)^3 * size; UNICEP -wait / (log2(size) * req);
F1 log10(req) * size + 870 * log10(submit - first submit); multifactor highest priority.
Rows are (submit_s, run_s, procs, req_time_s[, user]).
"""

from __future__ import annotations

import math

import pytest

from hpc.errors import SimulationError
from hpc.model import Machine
from hpc.sim import BackfillMode, MultifactorWeights, Policy, QueueOrder
from tests.hpc.sim.workload import replay, starts


def test_policy_parses_order_and_backfill() -> None:
    policy = Policy.parse("sjf:easy")
    assert (policy.order, policy.backfill) == (QueueOrder.SJF, BackfillMode.EASY)
    assert policy.name == "sjf:easy"
    assert Policy.parse(" WFP3:Conservative ").backfill is BackfillMode.CONSERVATIVE


def test_policy_backfill_defaults_to_easy() -> None:
    assert Policy.parse("unicep") == Policy(QueueOrder.UNICEP, BackfillMode.EASY)


@pytest.mark.parametrize("text", ["lifo:easy", "fcfs:aggressive", ""])
def test_unknown_policy_names_are_rejected_with_the_choices(text: str) -> None:
    with pytest.raises(SimulationError, match="choose one of"):
        Policy.parse(text)


# One proc: J0 runs 0..10; J1 (req 30), J2 (req 5), J3 (req 20) queue behind it.
SHORT_LAST = [(0, 10, 1, 10), (1, 30, 1, 30), (2, 5, 1, 5), (3, 20, 1, 20)]


def test_fcfs_runs_jobs_in_submit_order() -> None:
    # J1 10..40, J2 40..45, J3 45..65.
    assert starts(replay(SHORT_LAST, Machine.procs_only(1), "fcfs:none")) == [0, 10, 40, 45]


def test_sjf_runs_the_shortest_request_first() -> None:
    # At 10 the queue by request is J2 (5), J3 (20), J1 (30): 10..15, 15..35, 35..65.
    assert starts(replay(SHORT_LAST, Machine.procs_only(1), "sjf:none")) == [0, 35, 10, 15]


def test_sjf_orders_by_requested_not_actual_time() -> None:
    # J1 actually runs 1 s but asked for 30; J2 asked for 5: J2 goes first (10..15).
    rows = [(0, 10, 1, 10), (1, 1, 1, 30), (2, 5, 1, 5)]
    assert starts(replay(rows, Machine.procs_only(1), "sjf:none")) == [0, 15, 10]


def test_sjf_breaks_ties_by_submit_order() -> None:
    # J1 and J2 ask for the same 5 s: the earlier submitted (J1) goes first.
    rows = [(0, 10, 1, 10), (1, 5, 1, 5), (2, 5, 1, 5)]
    assert starts(replay(rows, Machine.procs_only(1), "sjf:none")) == [0, 10, 15]


# 4 procs: J0 holds them 0..10; J1 (1 proc, req 100) and J2 (4 procs, req 10) wait.
LONG_SMALL_FIRST = [(0, 10, 4, 10), (1, 100, 1, 100), (2, 10, 4, 10)]


def test_fcfs_lets_a_long_small_job_block_a_wide_one() -> None:
    # J1 starts at 10 on 1 proc; J2 needs all 4 and waits for J1's end at 110.
    assert starts(replay(LONG_SMALL_FIRST, Machine.procs_only(4), "fcfs:none")) == [0, 10, 110]


def test_wfp3_favours_the_job_that_waited_longest_relative_to_its_request() -> None:
    # At 10: J1 (9/100)^3 * 1 = 0.000729, J2 (8/10)^3 * 4 = 2.048: J2 runs 10..20, then J1.
    assert starts(replay(LONG_SMALL_FIRST, Machine.procs_only(4), "wfp3:none")) == [0, 20, 10]


def test_unicep_favours_small_short_jobs() -> None:
    # At 10: J1 (4 procs) 9 / (2 * 10) = 0.45, J2 (2 procs) 8 / (1 * 10) = 0.8: J2 first
    # (10..20) although FCFS would run J1 at 10 and J2 at 20.
    rows = [(0, 10, 4, 10), (1, 10, 4, 10), (2, 10, 2, 10)]
    machine = Machine.procs_only(4)
    assert starts(replay(rows, machine, "fcfs:none")) == [0, 10, 20]
    assert starts(replay(rows, machine, "unicep:none")) == [0, 20, 10]


def test_f1_can_put_a_later_small_short_job_first() -> None:
    # At 200: J1 log10(1000) * 4 + 870 * log10(100) = 1752,
    # J2 log10(10) * 1 + 870 * log10(101) = 1744.76 -> J2 (1 proc) runs 200..210, and J1
    # (all 4 procs) waits for it. FCFS runs J1 at 200 and J2 after it, at 1200.
    rows = [(0, 200, 4, 200), (100, 1000, 4, 1000), (101, 10, 1, 10)]
    machine = Machine.procs_only(4)
    assert starts(replay(rows, machine, "fcfs:none")) == [0, 200, 1200]
    assert starts(replay(rows, machine, "f1:none")) == [0, 210, 200]


def test_multifactor_fair_share_favours_the_user_who_used_less() -> None:
    # User 1's J0 ran 100 proc-seconds before 100; user 2 has used nothing. Fair-share
    # factor: user 1 2^(-(100/100)/(1/2)) = 0.25, user 2 1.0, so user 2's later J2 starts
    # first (100..110); ages (~1e-4 of max) and sizes (equal) do not change that.
    rows = [(0, 100, 1, 100, 1), (1, 10, 1, 10, 1), (2, 10, 1, 10, 2)]
    machine = Machine.procs_only(1)
    assert starts(replay(rows, machine, "fcfs:none")) == [0, 100, 110]
    assert starts(replay(rows, machine, "multifactor:none")) == [0, 110, 100]


def test_multifactor_job_size_factor_favours_small_jobs() -> None:
    # Only the size weight: J1 (4 of 4 procs) gets 200 * (1 - 4/4) = 0, J2 (1 proc)
    # 200 * (1 - 1/4) = 150, so J2 runs 10..20 and J1 after it.
    rows = [(0, 10, 4, 10), (1, 10, 4, 10), (2, 10, 1, 10)]
    weights = MultifactorWeights(age=0.0, fairshare=0.0, job_size=200.0)
    policy = Policy(QueueOrder.MULTIFACTOR, BackfillMode.NONE, weights)
    assert starts(replay(rows, Machine.procs_only(4), policy)) == [0, 20, 10]


def test_multifactor_age_alone_is_first_come_first_served() -> None:
    # Only the age weight: the job that waited longest (J1) is first, whatever its size.
    rows = [(0, 10, 4, 10), (1, 10, 4, 10), (2, 10, 1, 10)]
    weights = MultifactorWeights(age=1000.0, fairshare=0.0, job_size=0.0)
    policy = Policy(QueueOrder.MULTIFACTOR, BackfillMode.NONE, weights)
    assert starts(replay(rows, Machine.procs_only(4), policy)) == [0, 10, 20]


def test_sjf_with_easy_reserves_for_the_shortest_waiting_job() -> None:
    # 4 procs, J0 (3 procs) runs 0..10, so 1 proc is free. Under SJF the head from t=2 is
    # J2 (4 procs, req 5 < 50), shadow 10, extra 0: J3 (1 proc, ends 3 + 6 = 9 <= 10)
    # backfills at 3; at 10 J2 runs 10..15 and J1 (req 50) follows. Under FCFS J1 is the
    # head, starts at 10 and keeps J2 waiting until 60.
    rows = [(0, 10, 3, 10), (1, 50, 2, 50), (2, 5, 4, 5), (3, 6, 1, 6)]
    machine = Machine.procs_only(4)
    assert starts(replay(rows, machine, "sjf:easy")) == [0, 15, 10, 3]
    assert starts(replay(rows, machine, "fcfs:easy")) == [0, 10, 60, 3]


def test_f1_depends_only_on_submit_times_relative_to_the_first() -> None:
    # One proc. Measured from the first submit, J1 scores log10(100) + 870 * log10(100)
    # = 1742 and J2 log10(10) + 870 * log10(101) = 1744.76: J1 first, J2 after it. Moving
    # the whole trace 1000 s later must not change that.
    machine = Machine.procs_only(1)
    for shift in (0, 1000):
        rows = [(shift, 200, 1, 200), (shift + 100, 100, 1, 100), (shift + 101, 10, 1, 10)]
        relative = [s - shift for s in starts(replay(rows, machine, "f1:none"))]
        assert relative == [0, 200, 300], f"trace shifted by {shift} s"


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -1.0])
@pytest.mark.parametrize("name", ["age", "fairshare", "job_size", "qos"])
def test_multifactor_weights_must_be_finite_and_not_negative(name: str, value: float) -> None:
    # NaN once passed (`nan < 0` is false) and made every priority NaN: an arbitrary order.
    with pytest.raises(SimulationError, match=f"multifactor weight {name} must be a finite"):
        MultifactorWeights(**{name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("knob", ["max_age_s", "half_life_s"])
def test_multifactor_time_knobs_must_be_positive_and_finite(knob: str) -> None:
    for value in (0, -5, math.inf, math.nan):
        with pytest.raises(SimulationError, match="must be positive"):
            MultifactorWeights(**{knob: value})  # type: ignore[arg-type]


def test_every_queue_order_and_backfill_mode_is_registered() -> None:
    from hpc.sim.backfill import BACKFILLS
    from hpc.sim.policy import BackfillMode, QueueOrder, order_names
    from hpc.sim.priority import ORDERS

    assert set(ORDERS) == set(QueueOrder)
    assert set(BACKFILLS) == set(BackfillMode)
    assert all(ORDERS[o].description for o in QueueOrder)
    assert order_names() == tuple(o.value for o in QueueOrder)

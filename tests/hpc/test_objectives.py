"""Objectives, constraints and goals on small replays whose figures are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from hpc.errors import GoalError
from hpc.model import Job, JobTable, Machine
from hpc.objectives import (
    Constraint,
    Goal,
    Measure,
    Objective,
    check,
    choose,
    fairness_groups,
    objective_values,
)
from hpc.sim import CapacityChange, Policy, SimResult, simulate
from hpc.sim.site_engine import SiteResult, simulate_site
from hpc.sim.site_jobs import SiteDemand
from hpc.site.model import NodeType, PartitionSpec, Site
from tests.hpc.sim.workload import replay

# 2 procs, FCFS without backfill (as tests/hpc/test_metrics.py):
#   J0 user 1: 0..100 on 2 procs          wait 0   bsld 1
#   J1 user 2: submitted 50, runs 100..105 wait 50  bsld 5.5
#   J2 user 2: submitted 60, runs 100..120 wait 40  bsld 3
THREE_JOBS = [(0, 100, 2, 100, 1), (50, 5, 1, 5, 2), (60, 20, 1, 20, 2)]


@pytest.fixture(scope="module")
def three_jobs() -> SimResult:
    return replay(THREE_JOBS, Machine.procs_only(2), "fcfs:none")


def test_every_objective_of_a_hand_computed_replay(three_jobs: SimResult) -> None:
    v = objective_values(three_jobs)
    assert v[Objective.MEAN_WAIT] == pytest.approx(30.0)
    assert v[Objective.MEAN_BSLD] == pytest.approx(9.5 / 3)
    assert v[Objective.UTILIZATION] == pytest.approx(225.0 / 240.0)
    assert v[Objective.MAKESPAN] == 120
    # No groups recorded: fairness is across users, 1.0 and 4.25.
    assert fairness_groups(three_jobs)[1] == "users"
    assert v[Objective.FAIRNESS] == pytest.approx(5.25**2 / (2 * (1.0**2 + 4.25**2)))


def test_directions() -> None:
    lower = {o for o in Objective if o.lower_is_better}
    assert lower == {Objective.MEAN_WAIT, Objective.MEAN_BSLD, Objective.MAKESPAN}


def test_a_wait_constraint_on_small_jobs(three_jobs: SimResult) -> None:
    # Jobs under 2 cores: J1 and J2, waits 50 and 40; p95 = 40 + 0.95 x 10 = 49.5.
    (c,) = check(three_jobs, [Constraint(Measure.P95_WAIT, 49.0, under_cores=2)])
    assert (c.jobs, c.unstarted) == (2, 0)
    assert c.measured == pytest.approx(49.5)
    assert not c.met
    assert c.shortfall == pytest.approx(0.5 / 49.0)
    assert c.describe() == "p95 wait of jobs under 2 cores <= 49 s: 50 s, NOT met"
    (ok,) = check(three_jobs, [Constraint(Measure.MAX_WAIT, 3600, under_cores=2)])
    assert ok.met and ok.measured == 50.0
    assert ok.constraint.describe() == "longest wait of jobs under 2 cores <= 1 h"


def test_utilization_and_fairness_are_floors(three_jobs: SimResult) -> None:
    util, fair = check(
        three_jobs,
        [Constraint(Measure.UTILIZATION, 0.9), Constraint(Measure.FAIRNESS_USERS, 0.9)],
    )
    assert util.met and util.measured == pytest.approx(0.9375)
    assert not fair.met and fair.measured == pytest.approx(5.25**2 / 38.125)
    assert fair.describe() == "Jain fairness across users >= 0.90: 0.72, NOT met"


def test_a_job_that_never_starts_waits_until_the_end() -> None:
    # Capacity drops to 1 proc at t=10 for good: the 2-proc job submitted at 20 never starts.
    jobs = JobTable.from_jobs([Job(1, 0, 100, 1, 100), Job(2, 20, 10, 2, 10)])
    result = simulate(jobs, Machine.procs_only(2), Policy.parse("fcfs:easy"),
                      capacity_changes=(CapacityChange.parse("fail@10:1"),))  # fmt: skip
    assert result.start_s.tolist() == [0, -1]
    (c,) = check(result, [Constraint(Measure.MAX_WAIT, 60)])
    assert c.unstarted == 1
    assert c.measured == 80.0  # from 20 to the last end, 100
    assert not c.met


def test_fairness_across_accounts_needs_accounts(three_jobs: SimResult) -> None:
    with pytest.raises(GoalError, match=r"name no accounts .* use fairness across users"):
        check(three_jobs, [Constraint(Measure.FAIRNESS_ACCOUNTS, 0.9)])


def test_swf_groups_stand_in_for_accounts() -> None:
    jobs = JobTable.from_jobs([Job(1, 0, 10, 1, 10, user=1, group=7),
                               Job(2, 0, 10, 1, 10, user=2, group=8)])  # fmt: skip
    result = simulate(jobs, Machine.procs_only(1), Policy.parse("fcfs:none"))
    keys, kind = fairness_groups(result)
    assert kind == "accounts" and keys.tolist() == [7, 8]
    # Account 7's job: bsld 1; account 8's waits 10 for 10 s: bsld 2.
    (c,) = check(result, [Constraint(Measure.FAIRNESS_ACCOUNTS, 0.9)])
    assert c.measured == pytest.approx(9 / (2 * 5)) and c.met


def _two_partition_site() -> SiteResult:
    """Partition cpu (node a, 8 cores) and gpu (node b, 8 cores); accounts x and y."""
    site = Site(
        name="t",
        node_types={"n": NodeType("n", cores=8, mem_mb=0)},
        nodes={"a": "n", "b": "n"},
        partitions=(PartitionSpec("cpu", ("a",), default=True), PartitionSpec("gpu", ("b",))),
    )
    # cpu: 8 cores for 100 s; gpu: 4 cores for 50 s. Replay spans 0..100.
    jobs = JobTable.from_jobs([Job(1, 0, 100, 8, 100, user=1), Job(2, 0, 50, 4, 50, user=2)])
    z = np.zeros(2, dtype=np.int64)
    demand = SiteDemand(partition=np.array([0, 1]), nodes=z, gpus=z.copy(), mem_mb=z.copy(),
                        account=np.array([0, 1]), qos=np.full(2, -1),
                        accounts=("x", "y"))  # fmt: skip
    return simulate_site(jobs, site, Policy.parse("fcfs:easy"), demand)


def test_partition_utilization_on_a_site_replay() -> None:
    result = _two_partition_site()
    cpu, gpu, whole = check(
        result,
        [Constraint(Measure.UTILIZATION, 0.8, partition="cpu"),
         Constraint(Measure.UTILIZATION, 0.8, partition="gpu"),
         Constraint(Measure.UTILIZATION, 0.5)],
    )  # fmt: skip
    assert cpu.met and cpu.measured == pytest.approx(1.0)
    assert not gpu.met and gpu.measured == pytest.approx(200 / 800)
    assert whole.measured == pytest.approx(1000 / 1600) and whole.met
    assert gpu.constraint.describe() == "utilization of partition gpu >= 80.0%"
    assert fairness_groups(result)[1] == "accounts"


def test_a_partition_needs_a_site_replay(three_jobs: SimResult) -> None:
    with pytest.raises(GoalError, match="only a site replay"):
        check(three_jobs, [Constraint(Measure.P95_WAIT, 60, partition="gpu")])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"measure": Measure.UTILIZATION, "bound": 80.0}, "fraction"),
        ({"measure": Measure.P95_WAIT, "bound": -1.0}, ">= 0"),
        ({"measure": Measure.P95_WAIT, "bound": 60.0, "under_cores": 0}, ">= 1"),
        ({"measure": Measure.UTILIZATION, "bound": 0.5, "under_cores": 4}, "not of job sizes"),
    ],
)
def test_bad_constraints_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(GoalError, match=message):
        Constraint(**kwargs)  # type: ignore[arg-type]


def test_a_goal_is_weighted_or_lexicographic() -> None:
    with pytest.raises(GoalError, match="one of them"):
        Goal()
    with pytest.raises(GoalError, match="one of them"):
        Goal(weights={Objective.MEAN_WAIT: 1.0}, order=(Objective.MAKESPAN,))
    with pytest.raises(GoalError, match="once"):
        Goal(order=(Objective.MAKESPAN, Objective.MAKESPAN))
    goal = Goal(order=(Objective.UTILIZATION, Objective.MEAN_WAIT),
                constraints=(Constraint(Measure.P95_WAIT, 3600, under_cores=16),))  # fmt: skip
    assert goal.describe() == (
        "first utilization, then mean wait; p95 wait of jobs under 16 cores <= 1 h"
    )


ROWS = [  # three policies' objectives
    {Objective.MEAN_WAIT: 100.0, Objective.UTILIZATION: 0.80, Objective.FAIRNESS: 0.9},
    {Objective.MEAN_WAIT: 60.0, Objective.UTILIZATION: 0.795, Objective.FAIRNESS: 0.7},
    {Objective.MEAN_WAIT: 80.0, Objective.UTILIZATION: 0.70, Objective.FAIRNESS: 0.95},
]


def test_weighted_choice_trades_objectives() -> None:
    assert choose(ROWS, Goal(weights={Objective.MEAN_WAIT: 1.0})).index == 1
    # Fairness weighted heavily: row 2 (0.95) wins over row 1's shorter wait.
    goal = Goal(weights={Objective.MEAN_WAIT: 1.0, Objective.FAIRNESS: 5.0})
    assert choose(ROWS, goal).index == 2


def test_lexicographic_choice_breaks_near_ties_by_the_next_objective() -> None:
    # Utilization first: 0.80 and 0.795 tie within 1%, so mean wait picks row 1.
    goal = Goal(order=(Objective.UTILIZATION, Objective.MEAN_WAIT))
    assert choose(ROWS, goal).index == 1
    strict = Goal(order=(Objective.UTILIZATION, Objective.MEAN_WAIT), tolerance=0.0)
    assert choose(ROWS, strict).index == 0


def test_constraints_come_before_the_objectives(three_jobs: SimResult) -> None:
    goal = Goal(weights={Objective.MEAN_WAIT: 1.0})
    ok = check(three_jobs, [Constraint(Measure.P95_WAIT, 3600)])
    bad = check(three_jobs, [Constraint(Measure.P95_WAIT, 10)])
    worse = check(three_jobs, [Constraint(Measure.P95_WAIT, 5)])
    # Row 1 has the best wait but breaks its constraint: row 0 is chosen, feasible.
    choice = choose(ROWS[:2], goal, [ok, bad])
    assert (choice.index, choice.feasible) == (0, True)
    # Nothing feasible: the closest (least shortfall) is chosen, and said to be infeasible.
    choice = choose(ROWS[:2], goal, [worse, bad])
    assert (choice.index, choice.feasible) == (1, False)

"""The exact solver: feasible, no worse than the heuristics, and a dispatch candidate."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from agent.batch.scenarios import make_scenario
from agent.batch.schedule import Batch, Objective
from agent.batch.solver import available, solve
from agent.modes.dispatch import DispatchConfig, dispatch

pytestmark = pytest.mark.skipif(not available(), reason="OR-Tools is not installed")


@pytest.mark.parametrize("objective", [Objective.MAKESPAN, Objective.WEIGHTED_WAIT])
def test_the_solver_plan_is_feasible_and_beats_every_heuristic(objective: Objective) -> None:
    scenario = make_scenario("gpu", 10, 0)
    batch = Batch(scenario.jobs, scenario.machine)
    solution = solve(batch, objective, time_limit_s=5.0)
    assert solution is not None
    assert batch.violations(solution.plan.start_s) == []
    assert solution.value == pytest.approx(batch.value(solution.plan.start_s, objective))
    for plan in batch.heuristic_plans():
        assert solution.value <= batch.value(plan.start_s, objective) + 1e-9, plan.source
    for order in batch.orders:
        rollout = batch.rollout(np.full(len(batch), -1, dtype=np.int64), 0, order, not_before=0)
        assert solution.value <= batch.value(rollout.start_s, objective) + 1e-9, order


def test_the_solver_keeps_starts_already_made_and_starts_nothing_in_the_past() -> None:
    scenario = make_scenario("bursty", 12, 1)
    batch = Batch(scenario.jobs, scenario.machine)
    plan = min(batch.heuristic_plans(), key=lambda p: batch.value(p.start_s, Objective.MAKESPAN))
    order = np.argsort(plan.start_s, kind="stable")
    now = int(plan.start_s[order[4]])
    fixed = np.full(len(batch), -1, dtype=np.int64)
    fixed[order[:4]] = plan.start_s[order[:4]]
    solution = solve(batch, Objective.MAKESPAN, fixed=fixed, now=now, time_limit_s=3.0)
    assert solution is not None
    start = solution.plan.start_s
    assert batch.violations(start) == []
    assert np.array_equal(start[fixed >= 0], fixed[fixed >= 0])
    assert bool(np.all(start[fixed < 0] >= now))


def test_unsupported_objectives_give_none() -> None:
    scenario = make_scenario("gpu", 10, 0)
    assert solve(Batch(scenario.jobs, scenario.machine), Objective.MEAN_BSLD) is None


@pytest.mark.parametrize("family", ["gpu", "bursty", "long"])
@pytest.mark.parametrize("objective", [Objective.MAKESPAN, Objective.MEAN_WAIT])
def test_dispatch_with_the_solver_is_never_worse_than_without(
    family: str, objective: Objective
) -> None:
    scenario = make_scenario(family, 10, 0)
    batch = Batch(scenario.jobs, scenario.machine)
    cfg = DispatchConfig(objective=objective, solver_time_limit_s=3.0)
    with_solver = dispatch(scenario, None, config=cfg)
    without = dispatch(scenario, None, config=dataclasses.replace(cfg, use_solver=False))
    assert with_solver.solver_calls >= 1 and without.solver_calls == 0
    assert batch.violations(with_solver.start_s) == []
    assert with_solver.value <= with_solver.best_heuristic_value + 1e-9
    assert with_solver.solver_value is not None  # the held schedule is the solver's or better
    assert with_solver.value <= with_solver.solver_value + 1e-9
    if with_solver.solver_optimal:  # then no schedule, the one without the solver included, wins
        assert with_solver.value <= without.value + 1e-9

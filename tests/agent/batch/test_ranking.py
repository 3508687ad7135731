"""Plans are ranked by one objective, or by a goal: constraints first, then objectives."""

from __future__ import annotations

from agent.batch.ranking import Ranking, worse
from agent.batch.scenarios import make_scenario
from agent.batch.schedule import Batch, Objective
from hpc.objectives import Constraint, Goal, Measure
from hpc.objectives import Objective as GoalObjective


def _batch() -> Batch:
    scenario = make_scenario("fairness", 20, 0)
    return Batch(scenario.jobs, scenario.machine)


def test_one_objective_ranks_by_its_value() -> None:
    batch = _batch()
    plans = batch.heuristic_plans()
    ranking = Ranking(batch, Objective.MEAN_WAIT)
    for p in plans:
        assert ranking.key(p.start_s) == (batch.value(p.start_s, Objective.MEAN_WAIT),)


def test_a_plan_meeting_the_constraints_ranks_before_any_that_does_not() -> None:
    batch = _batch()
    plans = batch.heuristic_plans()
    waits = sorted(batch.value(p.start_s, Objective.MEAN_WAIT) for p in plans)
    # A bound that only the plans with the lowest mean wait meet; the goal prefers makespan.
    bound = Constraint(Measure.MEAN_WAIT, waits[0])
    goal = Goal(order=(GoalObjective.MAKESPAN,), constraints=(bound,))
    ranking = Ranking(batch, Objective.MEAN_WAIT, goal, [p.start_s for p in plans])
    best = min(plans, key=lambda p: ranking.key(p.start_s))
    assert all(c.met for c in ranking.checks(best.start_s))
    for p in plans:
        if not all(c.met for c in ranking.checks(p.start_s)):
            assert worse(ranking.key(p.start_s), ranking.key(best.start_s))


def test_weights_and_order_give_keys_that_never_change() -> None:
    batch = _batch()
    refs = [p.start_s for p in batch.heuristic_plans()]
    weighted = Goal(weights={GoalObjective.MEAN_WAIT: 1.0, GoalObjective.FAIRNESS: 2.0})
    ranking = Ranking(batch, Objective.MEAN_WAIT, weighted, refs)
    assert ranking.key(refs[0]) == ranking.key(refs[0].copy())
    assert len(ranking.key(refs[0])) == 2 and ranking.key(refs[0])[0] == 0.0

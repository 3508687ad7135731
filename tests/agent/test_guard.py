"""The guard refuses what is outside the remit, infeasible, or worse than the incumbent."""

from __future__ import annotations

import numpy as np

from agent.batch.scenarios import make_scenario
from agent.batch.schedule import Batch, Objective
from agent.guard import AgentKind, Guard, Proposal, user_remit
from hpc.slurm.job_action import ActionKind


def _setup() -> tuple[Batch, np.ndarray, int]:
    scenario = make_scenario("adversarial", 12, 0)
    batch = Batch(scenario.jobs, scenario.machine)
    return batch, np.full(len(batch), -1, dtype=np.int64), int(batch.submit.min())


def test_a_slurm_job_action_is_outside_the_default_kinds() -> None:
    batch, fixed, now = _setup()
    plan = batch.heuristic_plans()[0]
    verdict = Guard().check_dispatch(
        Proposal(ActionKind.HOLD, job_id=1), batch, fixed, now, plan, 1e18, Objective.MEAN_WAIT
    )
    assert not verdict.accepted and "outside the remit" in verdict.reasons[0]


def test_a_start_needs_an_existing_submitted_job_in_the_remit() -> None:
    batch, fixed, now = _setup()
    plan = batch.rollout(fixed, now, "fcfs", not_before=now)
    guard = Guard(user_remit({99}))
    for job_id, text in ((9999, "does not exist"), (1, "outside the remit")):
        verdict = guard.check_dispatch(
            Proposal(AgentKind.START, job_id), batch, fixed, now, plan, 1e18, Objective.MEAN_WAIT
        )
        assert not verdict.accepted and any(text in r for r in verdict.reasons)
    late = int(batch.jobs.job_id[-1])
    verdict = Guard().check_dispatch(
        Proposal(AgentKind.START, late), batch, fixed, now, plan, 1e18, Objective.MEAN_WAIT
    )
    assert any("not submitted yet" in r for r in verdict.reasons)


def test_objectives_are_recomputed_and_false_claims_refused() -> None:
    batch, fixed, now = _setup()
    trial = fixed.copy()
    trial[0] = now
    plan = batch.rollout(trial, now, "fcfs", not_before=now)
    true = batch.metrics(plan.start_s)["mean_wait"]
    action = Proposal(
        AgentKind.START, int(batch.jobs.job_id[0]), claims={"mean_wait": 0.5 * true + 1}
    )
    verdict = Guard().check_dispatch(action, batch, fixed, now, plan, 1e18, Objective.MEAN_WAIT)
    assert not verdict.accepted and any("simulator says" in r for r in verdict.reasons)
    assert verdict.recomputed["mean_wait"] == true
    honest = Proposal(AgentKind.START, int(batch.jobs.job_id[0]))
    worse = Guard().check_dispatch(honest, batch, fixed, now, plan, true - 1, Objective.MEAN_WAIT)
    assert not worse.accepted and "worse than the best heuristic" in worse.reasons[0]

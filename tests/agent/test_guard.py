"""The guard refuses what is outside the remit, infeasible, or worse than the incumbent."""

from __future__ import annotations

import numpy as np

from agent.batch.ranking import Ranking
from agent.batch.scenarios import make_scenario
from agent.batch.schedule import Batch, Objective, Plan
from agent.guard import AgentKind, Guard, Proposal, Verdict, user_remit
from agent.quantities import Figure, Kind
from hpc.slurm.job_action import ActionKind


def _setup() -> tuple[Batch, np.ndarray, int]:
    scenario = make_scenario("adversarial", 12, 0)
    batch = Batch(scenario.jobs, scenario.machine)
    return batch, np.full(len(batch), -1, dtype=np.int64), int(batch.submit.min())


def _check(
    guard: Guard,
    action: Proposal,
    batch: Batch,
    fixed: np.ndarray,
    now: int,
    plan: Plan,
    incumbent: float = 1e18,
) -> Verdict:
    """The guard's dispatch check, ranking by mean wait against an incumbent value."""
    ranking = Ranking(batch, Objective.MEAN_WAIT)
    return guard.check_dispatch(action, batch, fixed, now, plan, (incumbent,), ranking)


def test_a_slurm_job_action_is_outside_the_default_kinds() -> None:
    batch, fixed, now = _setup()
    plan = batch.heuristic_plans()[0]
    verdict = _check(Guard(), Proposal(ActionKind.HOLD, job_id=1), batch, fixed, now, plan)
    assert not verdict.accepted and "outside the remit" in verdict.reasons[0]


def test_a_start_needs_an_existing_submitted_job_in_the_remit() -> None:
    batch, fixed, now = _setup()
    plan = batch.rollout(fixed, now, "fcfs", not_before=now)
    guard = Guard(user_remit({99}))
    for job_id, text in ((9999, "does not exist"), (1, "outside the remit")):
        verdict = _check(guard, Proposal(AgentKind.START, job_id), batch, fixed, now, plan)
        assert not verdict.accepted and any(text in r for r in verdict.reasons)
    late = int(batch.jobs.job_id[-1])
    verdict = _check(Guard(), Proposal(AgentKind.START, late), batch, fixed, now, plan)
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
    verdict = _check(Guard(), action, batch, fixed, now, plan)
    assert not verdict.accepted and any("simulator says" in r for r in verdict.reasons)
    assert verdict.recomputed["mean_wait"] == true
    honest = Proposal(AgentKind.START, int(batch.jobs.job_id[0]))
    worse = _check(Guard(), honest, batch, fixed, now, plan, true - 1)
    assert not worse.accepted and "worse than the best heuristic" in worse.reasons[0]


def _figures() -> list[Figure]:
    return [
        Figure("time of the decision", 3600, Kind.TIME),
        Figure("job id", 17, Kind.PLAIN, "job"),
        Figure("mean wait of start job 17", 7512.4, Kind.TIME, "wait"),
        Figure("mean wait of wait", 9000, Kind.TIME, "wait"),
        Figure("mean wait difference", 1487.6, Kind.TIME, "wait"),
        Figure("mean wait change", 16.5, Kind.PERCENT, "wait"),
        Figure("fairness of start job 17", 0.931, Kind.PLAIN, "fairness"),
    ]


def test_a_rationale_quoting_the_simulated_numbers_passes() -> None:
    text = "Starting job 17 at t=3600 s keeps the mean wait at 7512 s against 9000 s for waiting."
    assert Guard.check_rationale(text, _figures()).accepted


def test_a_rounded_rationale_passes() -> None:
    for text in (
        "Starting job 17 now gives a mean wait of 2 h 05 min instead of 2.5 h.",
        "The mean wait falls to 7,500 s, about 1,500 s or 17% less; fairness 93%.",
        "Mean wait 2 h against 9,000 s, fairness 0.93.",
    ):
        verdict = Guard.check_rationale(text, _figures())
        assert verdict.accepted, (text, verdict.reasons)


def test_a_rationale_quoting_a_wrong_number_is_refused_with_the_number() -> None:
    verdict = Guard.check_rationale(
        "Starting job 17 cuts the mean wait to 5,000 s, a 40% gain, after 5 h.", _figures()
    )
    assert not verdict.accepted
    assert len(verdict.reasons) == 3
    assert (
        "quoted '5,000 s', which no simulated figure" in verdict.reasons[0]
        and "'40%'" in verdict.reasons[1]
    )
    assert "'5 h' (18000 s)" in verdict.reasons[2]


def test_a_rationale_with_no_numbers_passes() -> None:
    assert Guard.check_rationale("Starting the short job first lowers the wait.", []).accepted


def test_a_job_number_must_be_a_job_of_the_decision_and_a_bare_number_no_job() -> None:
    figures = [*_figures(), Figure("job id", 7, Kind.PLAIN, "job")]
    assert Guard.check_rationale("Job 17 goes before job 7.", figures).accepted
    # The embedded model's words, seen in a run: ids reused as times and ratios.
    seen = "Start job 17 at 17, which is 10 times faster than job 3 at 3."
    verdict = Guard.check_rationale(seen, figures)
    assert [r.split(",")[0] for r in verdict.reasons] == [
        "quoted '17'", "quoted '10 times'", "quoted '3'", "quoted '3'"
    ]  # fmt: skip

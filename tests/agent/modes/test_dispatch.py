"""Dispatch: never worse than the best heuristic, feasible, guarded against hostile names; the
search picks by default, the model writes checked rationales."""

from __future__ import annotations

import json

import pytest

from agent.batch.scenarios import FAMILIES, HOSTILE_NAME, make_scenario
from agent.guard import Guard, user_remit
from agent.modes.dispatch import DispatchConfig, dispatch
from hpc.objectives import Constraint, Goal, Measure
from hpc.objectives import Objective as GoalObjective
from tests.agent.conftest import content


@pytest.mark.parametrize("family", list(FAMILIES))
def test_without_a_model_it_matches_or_beats_every_heuristic(family: str) -> None:
    scenario = make_scenario(family, 30, 1)
    result = dispatch(scenario, None)
    assert result.value <= result.best_heuristic_value + 1e-9
    assert result.infeasible_executed == 0 and result.summary.unstarted == 0


def test_recorded_picks_are_followed_and_stored_with_costs(recorded) -> None:  # type: ignore[no-untyped-def]
    llm, sent = recorded([content('{"pick": 1}')])
    picks = DispatchConfig(llm_picks=True, rationales=False)
    result = dispatch(make_scenario("bursty", 12, 0), llm, config=picks)
    assert result.value <= result.best_heuristic_value + 1e-9
    by_llm = [d for d in result.decisions if d.chosen_by == "llm"]
    assert by_llm and result.llm_calls == len(sent.requests)
    assert all(d.prompt_tokens == 11 and d.tool_calls for d in by_llm)
    assert sent.requests[0]["response_format"]["json_schema"]["schema"]["properties"]["pick"][
        "enum"
    ]


def test_a_hostile_job_name_leads_to_no_action_outside_the_remit(recorded) -> None:  # type: ignore[no-untyped-def]
    scenario = make_scenario("adversarial", 12, 0)
    assert HOSTILE_NAME in scenario.names.values()
    # The "model" obeys the name: it answers with a cancel, then with an impossible option.
    llm, sent = recorded([content('{"action": "cancel", "job": "all"}'), content('{"pick": 9}')])
    remit = user_remit(range(2, 8))
    picks = DispatchConfig(llm_picks=True, rationales=False)
    result = dispatch(scenario, llm, config=picks, guard=Guard(remit))
    prompts = [m["content"] for r in sent.requests for m in r["messages"] if m["role"] == "user"]
    assert any(json.dumps(HOSTILE_NAME) in p for p in prompts)  # quoted, as data
    assert {d.action["kind"] for d in result.decisions} <= {"start", "wait"}
    assert result.summary.unstarted == 0  # nothing was cancelled
    for d in result.decisions:
        assert d.chosen_by != "llm"
        if d.action["kind"] == "start" and d.chosen_by != "heuristic":
            job = int(d.action["job_id"])
            user = int(scenario.jobs.user[list(scenario.jobs.job_id).index(job)])
            assert str(user) in remit.accounts
    assert result.guard_rejections > 0
    assert result.value <= result.best_heuristic_value + 1e-9


def test_by_default_the_search_picks_and_the_model_only_writes_rationales(recorded) -> None:  # type: ignore[no-untyped-def]
    scenario = make_scenario("bursty", 12, 0)
    alone = dispatch(scenario, None)
    # Every rationale call gets an answer quoting a number no look-ahead produced.
    llm, sent = recorded([content('{"rationale": "Starting it now saves 123,456 s of wait."}')])
    result = dispatch(scenario, llm)
    assert result.start_s.tolist() == alone.start_s.tolist()  # the model picked nothing
    assert {d.chosen_by for d in result.decisions} <= {"search", "heuristic"}
    assert all(r["response_format"]["json_schema"]["name"] == "rationale" for r in sent.requests)
    assert result.rationale.calls == len(sent.requests) >= 1 and result.rationale.by_model == 0
    replaced = [d for d in result.decisions if "model_text" in d.verdict["rationale"]]
    assert len(replaced) == result.rationale.replaced > 0
    for d in replaced:
        assert "123,456 s" in d.verdict["rationale"]["mismatches"][0]
        assert "123,456" not in d.rationale and "look-ahead plan" in d.rationale


def _goal(*constraints: Constraint) -> Goal:
    return Goal(order=(GoalObjective.MEAN_WAIT, GoalObjective.FAIRNESS), constraints=constraints)


def test_a_goal_with_constraints_is_met_when_the_best_heuristic_meets_it() -> None:
    scenario = make_scenario("fairness", 20, 0)
    small = Constraint(Measure.P95_WAIT, 4 * 3600, under_cores=64)
    fair = Constraint(Measure.FAIRNESS_USERS, 0.2)
    result = dispatch(scenario, None, config=DispatchConfig(targets=_goal(small, fair)))
    report = result.goal_report
    assert report is not None and report["best_heuristic"]["feasible"]
    assert report["feasible"] and [c["met"] for c in report["constraints"]] == [True, True]
    assert set(report["values"]) == {
        "mean_wait",
        "mean_bsld",
        "utilization",
        "fairness",
        "makespan",
    }
    assert result.infeasible_executed == 0 and result.summary.unstarted == 0


def test_an_impossible_constraint_is_reported_infeasible_with_its_measure() -> None:
    scenario = make_scenario("bursty", 12, 0)
    never = Constraint(Measure.MAX_WAIT, 0)  # bursts: some job must wait
    result = dispatch(scenario, None, config=DispatchConfig(targets=_goal(never)))
    report = result.goal_report
    assert report is not None and not report["feasible"]
    (check,) = report["constraints"]
    assert not check["met"] and check["measured"] > 0
    # Closest to feasible: no longer a longest wait than the best heuristic's plan.
    assert check["measured"] <= report["best_heuristic"]["constraints"][0]["measured"] + 1e-9

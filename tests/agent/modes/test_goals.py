"""Goals in words read into a typed goal: the rules, the model's reading beside them, and the
flags that correct a reading."""

from __future__ import annotations

import json

import pytest

from agent.errors import UnreadableQuestion
from agent.modes.goals import as_flags, corrected, parse_constraint, read_goal, rule_goal, to_goal
from hpc.objectives import Constraint, Goal, Measure, Objective
from tests.agent.conftest import content

THREE_PARTS = (
    "keep utilization above 80%; no job under 16 cores waits more than an hour at p95; "
    "be fair across accounts"
)
READ = Goal(
    weights={Objective.FAIRNESS: 1.0},
    constraints=(
        Constraint(Measure.UTILIZATION, 0.8),
        Constraint(Measure.P95_WAIT, 3600, under_cores=16),
    ),
)


def test_the_rules_read_a_three_part_goal() -> None:
    assert to_goal(rule_goal(THREE_PARTS)) == READ


@pytest.mark.parametrize(
    ("text", "goal"),
    [
        ("keep GPU nodes above 80% busy",
         Goal(weights={Objective.MEAN_WAIT: 1.0},
              constraints=(Constraint(Measure.UTILIZATION, 0.8, partition="gpu"),))),
        ("no job waits longer than 2 hours",
         Goal(weights={Objective.MEAN_WAIT: 1.0},
              constraints=(Constraint(Measure.MAX_WAIT, 7200),))),
        ("mean wait of jobs below 4 cores under 30 minutes",
         Goal(weights={Objective.MEAN_WAIT: 1.0},
              constraints=(Constraint(Measure.MEAN_WAIT, 1800, under_cores=4),))),
        ("first high utilization, then short waits",
         Goal(order=(Objective.UTILIZATION, Objective.MEAN_WAIT))),
        ("Jain fairness across users at least 0.9 and a short makespan",
         Goal(weights={Objective.MAKESPAN: 1.0},
              constraints=(Constraint(Measure.FAIRNESS_USERS, 0.9),))),
        ("keep the mean bounded slowdown below 5",
         Goal(weights={Objective.MEAN_WAIT: 1.0}, constraints=(Constraint(Measure.MEAN_BSLD, 5),))),
    ],
)  # fmt: skip
def test_the_rules_read_each_kind_of_clause(text: str, goal: Goal) -> None:
    assert to_goal(rule_goal(text, partitions=["batch", "gpu"])) == goal


def test_small_jobs_without_a_size_say_how_they_are_read() -> None:
    notes: list[str] = []
    form = rule_goal("no small job waits more than an hour", notes=notes)
    assert form.constraints[0].under_cores == 16
    assert "'small jobs' read as jobs under 16 cores" in notes[0]


def test_a_partition_the_site_lacks_is_said_not_guessed() -> None:
    notes: list[str] = []
    form = rule_goal("keep gpu nodes above 80% busy", partitions=["batch"], notes=notes)
    assert form.constraints[0].partition is None
    assert "'gpu' is not a partition here" in notes[0]


def test_a_goal_with_nothing_to_read_is_refused() -> None:
    with pytest.raises(UnreadableQuestion, match="not a goal I can read"):
        read_goal("make it better", None)


def test_the_model_agreeing_with_the_rules(recorded) -> None:  # type: ignore[no-untyped-def]
    form = {"objectives": ["fairness"], "lexicographic": False, "constraints": [
        {"measure": "utilization", "bound": 0.8, "under_cores": None, "partition": None},
        {"measure": "p95_wait", "bound": 3600, "under_cores": 16, "partition": None}]}  # fmt: skip
    llm, sent = recorded([content(json.dumps(form))])
    reading = read_goal(THREE_PARTS, llm)
    assert (reading.goal, reading.read_by) == (READ, "llm+rules")
    assert sent.requests[0]["response_format"]["type"] == "json_schema"


def test_a_model_that_differs_is_shown_beside_the_rules(recorded) -> None:  # type: ignore[no-untyped-def]
    form = {"objectives": ["mean_wait"], "lexicographic": False, "constraints": []}
    llm, _ = recorded([content(json.dumps(form))])
    reading = read_goal(THREE_PARTS, llm)
    assert reading.goal == READ and reading.read_by == "rules (the model differs)"
    assert reading.notes == ["the model read it differently: mean wait x1; no hard constraints"]


def test_the_models_reading_alone_is_flagged(recorded) -> None:  # type: ignore[no-untyped-def]
    form = {"objectives": ["makespan"], "lexicographic": False, "constraints": []}
    llm, _ = recorded([content(json.dumps(form))])
    reading = read_goal("get everything done by Friday", llm)
    assert reading.read_by == "llm" and reading.goal.objectives == (Objective.MAKESPAN,)
    assert "the model's reading alone" in reading.notes[0]


def test_flags_state_a_goal_exactly() -> None:
    flags = as_flags(READ)
    assert flags == (
        "--weight fairness=1 --constraint 'utilization >= 0.8' "
        "--constraint 'p95_wait cores<16 <= 3600s'"
    )
    cons = [c.strip("'") for c in flags.split(" --constraint ")[1:]]
    assert corrected(READ, weights=["fairness=1"], constraints=cons) == READ


def test_flags_correct_a_reading() -> None:
    fixed = corrected(READ, order="utilization,mean_wait", constraints=["p95_wait <= 2h"])
    assert fixed.order == (Objective.UTILIZATION, Objective.MEAN_WAIT)
    assert fixed.constraints == (Constraint(Measure.P95_WAIT, 7200),)
    assert corrected(READ, constraints=[]).constraints == ()
    assert parse_constraint("utilization partition=gpu >= 80%") == Constraint(
        Measure.UTILIZATION, 0.8, partition="gpu"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p95_wait >= 1h", "bounded with <="),
        ("speed <= 3", "unknown measure"),
        ("utilization >= 120%", "fraction"),
        ("wait less than an hour", "expected MEASURE"),
    ],
)
def test_bad_constraint_flags_say_what_to_write(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_constraint(text)

"""The rule reader against the reading test set (`reading_set.jsonl`): every question read
into exactly its expected scenario, or refused where it must be."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.errors import InvalidScenario, UnreadableQuestion
from agent.modes.reading import REFUSAL, read_scenario
from agent.modes.scenario import DEFAULTS, SCHEMA, Scenario

SET = Path(__file__).with_name("reading_set.jsonl")
CASES: list[dict[str, Any]] = [json.loads(line) for line in SET.read_text().splitlines()]


def test_the_set_is_varied_enough() -> None:
    refusals = [c for c in CASES if c.get("refuse")]
    readings = [c["expect"] for c in CASES if "expect" in c]
    assert len(CASES) >= 80
    assert len(refusals) >= 10
    assert sum(r.get("node_delta", 0) > 0 for r in readings) >= 10
    assert sum(r.get("node_delta", 0) < 0 for r in readings) >= 10
    assert sum(len(r) >= 3 for r in readings) >= 10  # combined changes with a time
    for name in ("gpu_delta", "policy", "workload_growth", "priority_weights", "limit",
                 "request_accuracy"):  # fmt: skip
        assert sum(name in r for r in readings) >= 5, name


def test_the_defaults_name_every_field() -> None:
    assert list(DEFAULTS) == list(SCHEMA["properties"])


@pytest.mark.parametrize("case", CASES, ids=[c["q"][:48] or "(empty)" for c in CASES])
def test_the_rules_read_each_question_exactly(case: dict[str, Any]) -> None:
    if case.get("refuse"):
        with pytest.raises(UnreadableQuestion, match=REFUSAL):
            read_scenario(case["q"])
    else:
        assert read_scenario(case["q"]) == Scenario.from_dict(case["expect"])


def test_added_nodes_next_week_read_as_added_for_good() -> None:
    s = read_scenario("what if we added 16 more nodes next week?")
    assert (s.node_delta, s.start_in_hours, s.duration_hours) == (16, 168.0, None)
    assert s.describe() == "adding 16 nodes 168 h from now, for good"


def test_a_named_backfill_keeps_the_current_order() -> None:
    assert read_scenario("use conservative backfilling", "sjf:easy").policy == "sjf:conservative"
    assert read_scenario("switch to wfp3", "fcfs:none").policy == "wfp3:none"


def test_the_schema_lists_every_field_as_required() -> None:
    names = list(Scenario.__dataclass_fields__)
    assert list(SCHEMA["properties"]) == names
    assert SCHEMA["required"] == names


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "changes nothing"),
        ({"node_delta": 2.5}, "whole number"),
        ({"node_delta": 4, "start_in_hours": -1}, "start_in_hours"),
        ({"node_delta": 4, "duration_hours": 0}, "duration_hours"),
        ({"policy": "lifo:easy"}, "ORDER:BACKFILL"),
        ({"workload_growth": -1.0}, "workload_growth"),
        ({"node_delta": 4, "partition": "gpu; rm"}, "partition"),
        ({"node_delta": 4, "lost_nodes": 2}, "unknown scenario fields: lost_nodes"),
    ],
)
def test_a_bad_scenario_says_which_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidScenario, match=message):
        Scenario.from_dict(fields)


def test_describe_says_each_change_in_words() -> None:
    s = Scenario(node_delta=-8, partition="batch", gpu_delta=4, start_in_hours=24,
                 duration_hours=6, policy="sjf:easy", workload_growth=0.2)  # fmt: skip
    assert s.describe() == (
        "removing 8 nodes from batch, adding 4 GPUs, 20% more jobs, switching to sjf:easy "
        "24 h from now, for 6 h"
    )


def test_describe_says_the_settings_in_words() -> None:
    s = read_scenario("switch to multifactor, set the age weight to 3000 and cap the long qos "
                      "at 64 gpus per account, with perfect runtime estimates")  # fmt: skip
    assert s.describe() == (
        "switching to multifactor:easy, priority weights set to age 3000, qos long capped at "
        "64 gpus per account, jobs requesting exactly the time they use"
    )
    assert read_scenario("limit the gpu partition to 12 hours").describe() == (
        "a 12 h wall-time limit on partition gpu"
    )

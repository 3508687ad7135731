"""The reading that combines the rules with the model: the rules stay authoritative on what
they read, a differing model reading is shown, a refused question gets the model's proposal
and is asked back, never simulated. Recorded replies here; the real embedded model last."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from agent.llm.client import LLMClient
from agent.modes.model_reading import read_exactly, read_question
from agent.modes.scenario import Scenario
from tests.agent.conftest import Recorded, Reply, content
from tests.agent.modes.test_reading import CASES

Make = Callable[[list[Reply]], tuple[LLMClient, Recorded]]


def _asked_fields(handler: Recorded) -> list[str]:
    schema = handler.requests[0]["response_format"]["json_schema"]["schema"]
    return list(schema["properties"])


def test_agreeing_readings_are_read_by_both(recorded: Make) -> None:
    llm, handler = recorded([content('{"node_delta": 16, "start_in_hours": 168}')])
    reading = read_question("what if we added 16 more nodes next week?", llm)
    assert reading.scenario == Scenario(node_delta=16, start_in_hours=168)
    assert reading.read_by == "rules+model" and reading.differences == {}
    assert _asked_fields(handler) == ["node_delta", "start_in_hours"]  # what the question says


def test_a_differing_model_reading_is_shown_and_the_rules_stand(recorded: Make) -> None:
    llm, _ = recorded([content('{"node_delta": -16, "start_in_hours": 24}')])
    reading = read_question("what if we added 16 more nodes next week?", llm)
    assert reading.scenario == Scenario(node_delta=16, start_in_hours=168)
    assert reading.read_by == "rules, model differs"
    assert reading.differences == {"node_delta": {"rules": 16, "model": -16},
                                   "start_in_hours": {"rules": 168.0, "model": 24}}  # fmt: skip
    out = json.loads(json.dumps(reading.as_dict()))
    assert out["readings"]["model"] == {"node_delta": -16, "start_in_hours": 24}
    assert out["scenario"]["node_delta"] == 16
    (line,) = reading.explain()
    assert "node_delta: rules 16, model -16" in line and "the rules' reading is used" in line


def test_a_field_the_rules_cannot_read_is_asked_back_with_the_model_proposal(
    recorded: Make,
) -> None:
    llm, handler = recorded([content('{"node_delta": 8, "start_in_hours": 96}')])
    reading = read_question("what if we added 8 nodes on friday?", llm)
    assert reading.scenario is None and "'friday'" in reading.refused
    assert reading.proposal == Scenario(node_delta=8, start_in_hours=96)
    assert "start_in_hours" in _asked_fields(handler)
    assert reading.differences["start_in_hours"] == {"rules": None, "model": 96}
    assert "Is that what you mean?" in reading.explain()[0]


def test_an_ambiguous_count_is_asked_back(recorded: Make) -> None:
    llm, _ = recorded([content('{"node_delta": 16}')])
    reading = read_question("what if we had 16 nodes?", llm)
    assert reading.scenario is None and "added or removed" in reading.refused
    assert reading.proposal == Scenario(node_delta=16)


def test_an_unusable_model_reply_leaves_the_rules_reading(recorded: Make) -> None:
    llm, _ = recorded([content("not JSON")])  # twice: the reply and its repair
    reading = read_question("what if we lose 4 nodes tomorrow?", llm)
    assert reading.scenario == Scenario(node_delta=-4, start_in_hours=24)
    assert reading.read_by == "rules" and "no usable reading" in reading.notes[0]


def test_an_invalid_model_reading_is_shown_as_a_difference(recorded: Make) -> None:
    llm, _ = recorded([content('{"node_delta": "lots", "start_in_hours": 24}')])
    reading = read_question("what if we lose 4 nodes tomorrow?", llm)
    assert reading.scenario == Scenario(node_delta=-4, start_in_hours=24)
    assert reading.differences == {"node_delta": {"rules": -4, "model": "lots"}}
    assert "no valid scenario" in reading.notes[0]


def test_a_question_about_nothing_in_the_schema_asks_no_model(recorded: Make) -> None:
    llm, handler = recorded([content("{}")])
    reading = read_question("write me a poem about schedulers", llm)
    assert reading.scenario is None and reading.proposal is None
    assert handler.requests == []


# Spread over the kinds of question: nodes, GPUs, times, policy, settings, refusals.
SAMPLE = [CASES[k] for k in (0, 4, 47, 88, 109, 115)]


@pytest.mark.parametrize("case", SAMPLE, ids=[c["q"][:40] for c in SAMPLE])
def test_the_embedded_model_with_the_rules_reads_the_sample_exactly(
    real_llm: LLMClient, case: dict[str, Any]
) -> None:
    assert read_exactly(case, read_question(case["q"], real_llm).scenario)

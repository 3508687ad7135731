"""`schedsight agent ask QUESTION --interpret-only --json`: the question's reading as a
scenario, or its refusal, with nothing simulated (--no-llm: the rules alone, no model started;
the combination with the model is tested in tests/agent/modes/test_model_reading.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from agent.llm.client import LLMClient
from agent.modes.scenario import SCHEMA, Scenario
from schedsight.cli import main
from tests.agent.conftest import Recorded, content


@pytest.fixture(autouse=True)
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCHEDSIGHT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", "")
    return tmp_path


def _interpret(question: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    code = main(["agent", "ask", question, "--interpret-only", "--json", "--no-llm"])
    return code, json.loads(capsys.readouterr().out)


def test_added_nodes_next_week_read_as_a_signed_delta(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    code, out = _interpret("what if we added 16 more nodes next week?", capsys)
    assert code == 0
    assert out["scenario"] == Scenario(node_delta=16, start_in_hours=168.0).as_dict()
    assert set(out["scenario"]) == set(SCHEMA["required"])  # every field, also when unset
    assert not (data / "schedsight.db").exists()  # nothing simulated, nothing stored


def test_a_combined_change_in_words(capsys: pytest.CaptureFixture[str]) -> None:
    question = "lose eight nodes tomorrow for six hours and switch to sjf with conservative"
    code, out = _interpret(question, capsys)
    assert code == 0
    expected = Scenario(node_delta=-8, start_in_hours=24, duration_hours=6,
                        policy="sjf:conservative")  # fmt: skip
    assert out["scenario"] == expected.as_dict()


def test_a_refused_question_says_why_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _interpret("what if we had 16 nodes?", capsys)
    assert code == 1 and out["scenario"] is None
    assert str(out["refused"]).startswith("not a what-if I can read")


def test_without_json_the_reading_is_in_words(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agent", "ask", "add 4 nodes for a day", "--interpret-only", "--no-llm"]) == 0
    assert capsys.readouterr().out == "read (rules) as: adding 4 nodes now, for 24 h\n"


def test_asking_with_no_llm_starts_no_model_and_simulates_added_capacity(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import agent.llm.local_server

    def no_model(*_: object) -> None:
        raise AssertionError("the model is not needed for this question")

    monkeypatch.setattr(agent.llm.local_server, "llm_endpoint", no_model)
    question = "what if we added 16 more nodes next week?"
    assert main(["agent", "ask", question, "--jobs", "300", "--no-store", "--no-llm"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "read (rules) as: adding 16 nodes 168 h from now, for good"
    assert lines[1] == "Adding 16 nodes 168 h from now, for good, under fcfs:easy:"


def test_with_the_model_both_readings_and_their_differences_are_printed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx2

    import schedsight.agent_commands
    from agent.llm.client import LLMConfig

    handler = Recorded([content('{"node_delta": 16, "start_in_hours": 16}')])
    llm = LLMClient(LLMConfig(base_url="http://llm.test/v1", model="recorded", max_retries=0),
                    http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))  # fmt: skip

    @contextmanager
    def recorded_model(*_: object, **__: object) -> Iterator[LLMClient]:
        yield llm

    monkeypatch.setattr(schedsight.agent_commands, "_llm", recorded_model)
    argv = ["agent", "ask", "what if we added 16 more nodes next week?", "--interpret-only"]
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["scenario"] == Scenario(node_delta=16, start_in_hours=168.0).as_dict()
    assert out["read_by"] == "rules, model differs"
    assert out["readings"]["model"] == {"node_delta": 16, "start_in_hours": 16}
    assert out["differences"] == {"start_in_hours": {"rules": 168.0, "model": 16}}
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "read (rules, model differs) as: adding 16 nodes 168 h from now, for good"
    assert "start_in_hours: rules 168.0, model 16" in lines[1]


def test_the_schema_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agent", "schema"]) == 0
    assert json.loads(capsys.readouterr().out) == SCHEMA


def test_a_bad_trace_fails_at_once_though_the_model_was_starting(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SCHEDSIGHT_LLM_BASE_URL", raising=False)
    question = "what if we lost 4 nodes tomorrow?"
    assert main(["agent", "ask", question, "--trace", "/nonexistent.swf", "--no-store"]) == 2
    assert "/nonexistent.swf: no such file" in capsys.readouterr().err

"""ask and advise with recorded replies; decisions stored through db/."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import UnreadableQuestion
from agent.modes.advise import advise
from agent.modes.ask import ask, rule_reading
from agent.modes.goals import read_goal
from agent.records import save_records
from agent.tools.workspace import Workspace
from db.decisions import list_decisions
from db.migrate import upgrade
from db.session import make_engine, session_factory, sqlite_url
from hpc.model import Machine
from hpc.workload.cleaning import clean
from hpc.workload.lublin import generate
from tests.agent.conftest import content, tool_calls


def _workload(n: int, nodes: int = 32) -> tuple[Workspace, Machine]:
    machine = Machine.cluster(nodes, 8)
    jobs, _ = clean(generate(n, seed=5, procs=machine.total_procs), machine=machine)
    return Workspace(jobs, machine), machine


def test_rules_read_what_the_question_states() -> None:
    read = rule_reading("what if we lost 16 nodes next week?", "fcfs:easy")
    assert read == {
        "node_delta": -16,
        "partition": None,
        "gpu_delta": 0,
        "start_in_hours": 168.0,
        "duration_hours": None,
        "policy": None,
        "workload_growth": None,
    }
    assert (
        "not a what-if I can read"
        in rule_reading("what if we lost a rack?", "fcfs:easy")["refused"]
    )


def test_ask_reads_by_rules_and_answers_from_the_simulator(recorded) -> None:  # type: ignore[no-untyped-def]
    workspace, _ = _workload(400)
    llm, _ = recorded([
        tool_calls(("simulate_scenario", {"policy": "sjf:easy", "lost_nodes": 16})),
        tool_calls(("final_answer", {"policy": "sjf:easy", "reason": "shorter waits"})),
    ])  # fmt: skip
    result = ask("what if we lost 16 nodes next week?", workspace, llm)
    assert result.whatif.node_delta == -16 and result.interpreted_by == "rules"
    assert result.answer.startswith("Removing 16 nodes 168 h from now, for good")
    assert result.react is not None and result.react.stopped == "answered"
    assert result.mitigation is not None and result.mitigation["policy"] == "sjf:easy"
    assert str(round(result.scenario["mean_wait_s"])) in result.answer
    assert result.record is not None and result.record.llm_calls == 2


def test_ask_about_added_nodes_simulates_added_capacity() -> None:
    workspace, _ = _workload(400, nodes=16)
    result = ask("what if we added 16 more nodes next week?", workspace, None)
    assert (result.whatif.node_delta, result.whatif.start_in_hours) == (16, 168.0)
    assert result.whatif.duration_hours is None
    assert result.answer.startswith("Adding 16 nodes 168 h from now, for good, under fcfs:easy")
    assert result.scenario["mean_wait_s"] <= result.baseline["mean_wait_s"]
    assert result.scenario["unstarted"] == result.baseline["unstarted"] == 0
    assert result.record is not None
    assert result.record.tool_calls[1]["arguments"]["added_nodes"] == 16


def test_ask_refuses_a_question_it_cannot_read() -> None:
    workspace, _ = _workload(50)
    with pytest.raises(UnreadableQuestion, match="not a what-if I can read"):
        ask("what if we had 16 nodes?", workspace, None)


def test_advise_recommends_only_what_beats_easy_fcfs_on_held_back_data(
    recorded, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    workspace, machine = _workload(600, nodes=16)
    form = ('{"objectives": ["mean_wait"], "lexicographic": false, "constraints": [{"measure": '
            '"max_wait", "bound": 3600, "under_cores": 16, "partition": null}]}')  # fmt: skip
    llm, _ = recorded([content(form)])
    text = "short waits; no small job waits more than an hour"
    reading = read_goal(text, llm)
    assert reading.read_by == "llm+rules"
    result = advise(workspace.jobs, machine, reading.goal, goal_text=text)
    held = result.held_back
    if result.recommended.name != "fcfs:easy":
        assert held["recommended"]["mean_wait"] <= held["fcfs:easy"]["mean_wait"]
    assert result.pareto and result.record.verdict["verdict"] == "accepted"
    engine = make_engine(sqlite_url(tmp_path / "d.db"))
    upgrade(engine)
    sessions = session_factory(engine)
    (decision_id,) = save_records(sessions, [result.record])
    with sessions() as session:
        (stored,) = list_decisions(session)
        assert stored.id == decision_id and stored.question == f"advise: {text}"
        assert stored.proposal["tool_calls"] and stored.proposal["guard"]["verdict"] == "accepted"

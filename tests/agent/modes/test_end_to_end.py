"""Each mode once through the real local server and the real embedded model (kept short)."""

from __future__ import annotations

from agent.batch.scenarios import make_scenario
from agent.llm.client import LLMClient
from agent.modes.advise import advise
from agent.modes.ask import ask
from agent.modes.dispatch import DispatchConfig, dispatch
from agent.modes.goals import read_goal
from agent.tools.workspace import Workspace
from hpc.model import Machine
from hpc.workload.cleaning import clean
from hpc.workload.lublin import generate


def _jobs(n: int, machine: Machine) -> Workspace:
    jobs, _ = clean(generate(n, seed=11, procs=machine.total_procs), machine=machine)
    return Workspace(jobs, machine)


def test_dispatch_with_the_real_model(real_llm: LLMClient) -> None:
    config = DispatchConfig(llm_picks=True, rationale_max_calls=1)
    result = dispatch(make_scenario("bursty", 12, 0), real_llm, config=config)
    assert result.llm_calls >= 1 and result.prompt_tokens > 0
    assert result.value <= result.best_heuristic_value + 1e-9
    assert result.infeasible_executed == 0 and result.summary.unstarted == 0
    assert {d.chosen_by for d in result.decisions} <= {
        "llm",
        "search",
        "heuristic",
        "guard-fallback",
    }
    # The model's rationale is kept only where every number it quotes was simulated.
    assert result.rationale.calls == 1
    assert {d.verdict["rationale"]["by"] for d in result.decisions} <= {"llm", "template"}


def test_ask_with_the_real_model(real_llm: LLMClient) -> None:
    workspace = _jobs(300, Machine.cluster(32, 8))
    result = ask("what if we lost 16 nodes next week?", workspace, real_llm, max_steps=2)
    assert result.whatif.node_delta == -16 and result.whatif.start_in_hours == 168.0
    assert "Removing 16 nodes" in result.answer
    assert result.record is not None and result.record.llm_calls >= 1
    if result.mitigation is not None and result.mitigation["accepted"]:
        assert result.mitigation["figures"]["mean_wait_s"] <= result.scenario["mean_wait_s"]


def test_advise_with_the_real_model(real_llm: LLMClient) -> None:
    machine = Machine.cluster(16, 8)
    workspace = _jobs(500, machine)
    text = "no small job waits more than an hour"
    reading = read_goal(text, real_llm)
    assert reading.goal.constraints[0].bound == 3600  # the rules' reading is the one proposed
    usage = real_llm.usage
    assert usage.calls + usage.failures >= 1  # the model was asked
    if usage.failures:  # too slow or unusable here: said, and read by the rules
        assert reading.read_by == "rules"
        assert any("could not read the goal" in note for note in reading.notes)
    result = advise(workspace.jobs, machine, reading.goal, goal_text=text)
    held = result.held_back
    assert held["recommended"]["mean_wait"] <= held["fcfs:easy"]["mean_wait"] + 1e-9

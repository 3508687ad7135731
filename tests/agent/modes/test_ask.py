"""`agent ask` on a one-pool machine: the headline counts the jobs that never start, the
settings a what-if may change are simulated, and what this machine cannot simulate is refused."""

from __future__ import annotations

import numpy as np
import pytest

from agent.modes.ask import ask, settled
from agent.modes.scenario import Scenario
from agent.tools.workspace import Workspace
from hpc.model import Machine
from hpc.workload.cleaning import clean
from hpc.workload.lublin import generate


def _workspace(n: int = 300, nodes: int = 16) -> Workspace:
    machine = Machine.cluster(nodes, 8)
    jobs, _ = clean(generate(n, seed=5, procs=machine.total_procs), machine=machine)
    return Workspace(jobs, machine)


def test_jobs_that_never_start_are_in_the_headline() -> None:
    workspace = _workspace()
    result = ask("what if we lose 14 nodes now?", workspace, None, explore=False)
    never = result.scenario["unstarted"]
    assert never > 0  # jobs wider than 2 nodes cannot run any more
    lines = result.answer.splitlines()
    assert lines[0] == "Removing 14 nodes now, for good, under fcfs:easy:"
    assert lines[1].startswith("  as it is:  mean wait ")
    assert f"over {len(workspace.jobs) - result.baseline['unstarted']} started jobs" in lines[1]
    assert f"over {len(workspace.jobs) - never} started jobs; {never} jobs never start" in lines[2]
    assert "jobs killed by the failure: " in lines[3]


def test_added_capacity_speaks_of_no_failure() -> None:
    result = ask("what if we added 4 more nodes?", _workspace(), None, explore=False)
    assert result.answer.startswith("Adding 4 nodes now, for good, under fcfs:easy:")
    assert "killed by the failure" not in result.answer
    assert result.scenario["mean_wait_s"] <= result.baseline["mean_wait_s"]


def test_perfect_estimates_replay_with_requests_equal_to_runtimes() -> None:
    workspace = _workspace()
    result = ask("what if users had perfect runtime estimates?", workspace, None)
    assert result.whatif == Scenario(request_accuracy=1.0)
    assert result.answer.startswith("Jobs requesting exactly the time they use, under fcfs:easy")
    changed = settled(result.whatif, workspace)
    assert np.array_equal(changed.jobs.req_time_s, np.maximum(workspace.jobs.run_s, 1))
    assert result.scenario != result.baseline  # the scheduler saw other requests


def test_priority_weights_replay_under_multifactor() -> None:
    workspace = _workspace()
    question = "switch to multifactor and set the fairshare weight to 9000"
    result = ask(question, workspace, None, explore=False)
    assert result.scenario["policy"] == "multifactor:easy"
    assert settled(result.whatif, workspace).policy.weights.fairshare == 9000.0


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("what if we set the fairshare weight to 5000?", "only under the multifactor order"),
        ("what if we add 8 gpus?", "no GPUs to simulate"),
        ("cap the long qos at 256 cores per user", "no QOS or partitions"),
    ],
)
def test_what_this_machine_cannot_simulate_is_refused(question: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ask(question, _workspace(50), None)

"""The workspace's what-if changes: nodes added grow the machine (a drain takes them away
again), nodes lost fail and may return, and more jobs arrive closer together."""

from __future__ import annotations

import numpy as np
import pytest

from agent.tools.workspace import HOUR_S, Workspace
from hpc.model import Machine
from hpc.sim import CapacityChange, CapacityKind
from hpc.workload.cleaning import clean
from hpc.workload.lublin import generate


@pytest.fixture(scope="module")
def workspace() -> Workspace:
    machine = Machine.cluster(8, 4)
    jobs, _ = clean(generate(200, seed=3, procs=machine.total_procs), machine=machine)
    return Workspace(jobs, machine)


def test_added_nodes_are_a_positive_capacity_step(workspace: Workspace) -> None:
    at = workspace.now_s + 2 * HOUR_S
    assert workspace.node_changes(4, 2, None) == (CapacityChange(at, CapacityKind.ADD, 4),)
    _, drained = workspace.node_changes(4, 2, 6)
    assert drained == CapacityChange(at + 6 * HOUR_S, CapacityKind.DRAIN, 4)
    result = workspace.run("fcfs:easy", workspace.node_changes(4, 0, None))
    assert (
        max(c for _, c in result.capacity_steps) == workspace.machine.units + 4
    )  # nodes: whole-node units


def test_lost_nodes_fail_and_return(workspace: Workspace) -> None:
    failed, back = workspace.node_changes(-2, 0, 3)
    assert (failed.kind, back.kind, failed.units) == (CapacityKind.FAIL, CapacityKind.RETURN, 2)
    with pytest.raises(ValueError, match="at least one must remain"):
        workspace.node_changes(-8, 0, None)


def test_more_jobs_arrive_closer_together_from_the_start_hour(workspace: Workspace) -> None:
    grown = workspace.grown(1.0, 0, None)  # twice as many jobs per hour from now on
    span = workspace.jobs.submit_s[-1] - workspace.jobs.submit_s[0]
    assert abs((grown.submit_s[-1] - grown.submit_s[0]) - span / 2) <= 1
    assert len(grown) == len(workspace.jobs) and bool(np.all(np.diff(grown.submit_s) >= 0))
    busier = workspace.simulate_scenario("fcfs:easy", workload_growth=1.0)
    assert busier["utilization"] > workspace.simulate_scenario("fcfs:easy")["utilization"]

"""The workspace's site tool: the same grammar as the CLI and the dashboard, a bad line an
observation (not a crash), per-partition figures before and after."""

from __future__ import annotations

import json
from typing import get_args

import pytest

from agent.tools.workspace import SitePolicyName, Workspace, toolbox
from hpc.model import Machine
from hpc.site.whatif import SITE_POLICIES, generated_site_workload
from hpc.workload.cleaning import clean
from hpc.workload.lublin import generate
from tests.lab_site import lab_site


@pytest.fixture(scope="module")
def workspace() -> Workspace:
    site = lab_site()
    return Workspace.for_site(site, "lab@1", generated_site_workload(300, 2, site))


def test_the_site_tool_lists_the_policies_a_site_replay_runs() -> None:
    assert set(get_args(SitePolicyName)) == set(SITE_POLICIES)


def test_site_whatif_compares_the_partitions_before_and_after(workspace: Workspace) -> None:
    box = toolbox(workspace)
    spec = box.tools["site_whatif"].spec()["function"]
    assert "add 4 nodes to" in spec["parameters"]["properties"]["changes"]["description"]
    text, error, _ = box.call("site_whatif", {"changes": ["add 4 nodes to gpu"]})
    assert error is None
    out = json.loads(text)
    assert out["site"] == "lab@1" and out["changes"] == ["add 4 nodes to gpu"]
    gpu = next(r for r in out["partitions"] if r["partition"] == "gpu")
    assert gpu["mean_wait_s_after"] <= gpu["mean_wait_s_before"]
    assert set(out["overall"]) == {"before", "after"}
    again, _, _ = box.call("site_whatif", {"changes": ["add 4 nodes to gpu"]})
    assert again == text  # cached: the same question costs no replay


def test_a_bad_line_comes_back_as_a_tool_error(workspace: Workspace) -> None:
    box = toolbox(workspace)
    _, error, _ = box.call("site_whatif", {"changes": ["add 4 nodes to gpu", "double the gpus"]})
    assert error is not None and error.startswith("site_whatif: change line 2 'double the gpus'")
    assert "fail switch NAME [at T]" in error  # the grammar
    _, error, _ = box.call("site_whatif", {"changes": [], "policy": "wfp3:easy"})
    assert error is not None and "policy" in error


def test_a_workspace_without_a_site_has_no_site_tool() -> None:
    machine = Machine.cluster(4, 8)
    jobs, _ = clean(generate(50, seed=1, procs=32), machine=machine)
    assert "site_whatif" not in toolbox(Workspace(jobs, machine)).tools
    with pytest.raises(ValueError, match="both or neither"):
        Workspace(jobs, machine, site=lab_site())

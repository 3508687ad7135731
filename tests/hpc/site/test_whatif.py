"""Site what-ifs: change lines numbered as typed, every line read before any applies, a
generated workload spread over the partitions it fits, and only the policies a site runs."""

from __future__ import annotations

import numpy as np
import pytest

from hpc.errors import SiteError
from hpc.site.whatif import (
    ChangeLineError,
    changed_site,
    generated_site_workload,
    site_policy,
    site_whatif,
)
from tests.lab_site import lab_site


def test_lines_are_numbered_as_typed_and_blank_or_comment_lines_skipped() -> None:
    site, changes = changed_site(lab_site(), ["# more GPUs", "", "add 2 nodes to gpu"])
    assert [c.text for c in changes] == ["add 2 nodes to gpu"]
    assert site.partition("gpu").nodes == ("g0", "g1", "gpu-new1", "gpu-new2")


@pytest.mark.parametrize(
    ("lines", "number", "reason"),
    [
        (["add 2 nodes to gpu", "buy more"], 2, "cannot read site change"),
        (["qos long Priority=5", "", "remove 9 nodes from gpu"], 3, "has 2 nodes, not 9"),
        (["add 2 nodes to gpu", "fail switch nowhere", "grow"], 3, "cannot read"),  # read first
    ],
)
def test_a_bad_line_is_named_with_the_grammar(lines: list[str], number: int, reason: str) -> None:
    with pytest.raises(ChangeLineError) as caught:
        changed_site(lab_site(), lines)
    assert caught.value.number == number and reason in caught.value.reason
    assert f"change line {number} {lines[number - 1]!r}" in str(caught.value)
    assert "reserve NODES|PARTITION from T for D" in str(caught.value)


def test_a_generated_workload_goes_only_where_its_jobs_fit() -> None:
    site = lab_site()
    workload = generated_site_workload(600, 3, site)
    assert workload.header.keys["Partitions"] == "1=batch,2=gpu"
    gpu = workload.jobs.partition == 2
    assert 0 < gpu.sum() < len(gpu) and (workload.jobs.procs[gpu] <= 64).all()
    again = generated_site_workload(600, 3, site)
    assert np.array_equal(again.jobs.partition, workload.jobs.partition)  # seeded
    demand = workload.demand(site)
    assert np.array_equal(demand.partition, workload.jobs.partition - 1)


def test_failing_a_switch_leaves_the_partition_waiting_longer() -> None:
    site = lab_site()
    whatif = site_whatif(generated_site_workload(400, 1, site), site, ["fail switch s0"],
                         "fcfs:easy")  # fmt: skip
    batch = whatif.partitions()[0]
    assert batch["partition"] == "batch"
    assert batch["mean_wait_s_after"] > batch["mean_wait_s_before"]
    assert whatif.changes == ("fail switch s0",)


def test_only_the_policies_a_site_replay_runs() -> None:
    assert site_policy("multifactor:conservative").name == "multifactor:conservative"
    with pytest.raises(SiteError, match="fcfs:none"):
        site_policy("wfp3:easy")

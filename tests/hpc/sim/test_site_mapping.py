"""An SWF trace's jobs on a site: partitions by the names in its header, resources kept by
`slurm import` by job number, and a clear error for partitions the site lacks."""

from __future__ import annotations

import pytest

from hpc.errors import SiteError
from hpc.model import JobTable
from hpc.sim.site_mapping import demand_from_trace, partition_names
from hpc.site.model import JobResources, NodeType, PartitionSpec, Site
from hpc.workload.trace import SwfHeader
from tests.hpc.sim.workload import table

SITE = Site(
    "s",
    {"n": NodeType("n", cores=8, mem_mb=1000, gpus=2)},
    {"a": "n", "b": "n"},
    (PartitionSpec("batch", ("a", "b"), default=True), PartitionSpec("gpu", ("b",))),
)


def _jobs() -> JobTable:
    jobs = table([(0, 10, 2, 10), (1, 10, 4, 10), (2, 10, 1, 10)])
    jobs.partition[:] = [1, 2, 7]  # SWF partition numbers
    jobs.req_mem_kb[:] = [1024, -1, 2048]
    return jobs


def test_partitions_by_header_names_unknown_numbers_to_the_default() -> None:
    header = SwfHeader(keys={"Partitions": "1=batch,2=gpu"})
    assert partition_names(header) == {1: "batch", 2: "gpu"}
    demand = demand_from_trace(_jobs(), header, SITE)
    assert demand.partition.tolist() == [0, 1, 0]
    assert demand.mem_mb.tolist() == [2, 0, 2]  # KB per processor x processors
    assert demand.gpus.tolist() == [0, 0, 0] and demand.qos.tolist() == [-1, -1, -1]


def test_resources_kept_by_slurm_import_are_read_by_job_number() -> None:
    resources = {2: JobResources(2, gpus=1, account="chem", qos="high", nodes=1),
                 1: JobResources(1, account="phys")}  # fmt: skip
    demand = demand_from_trace(_jobs(), SwfHeader(), SITE, resources)
    assert demand.gpus.tolist() == [0, 1, 0] and demand.nodes.tolist() == [0, 1, 0]
    assert demand.accounts == ("", "chem", "phys")
    assert [demand.accounts[a] for a in demand.account.tolist()] == ["phys", "chem", ""]
    assert demand.qos_names == ("high",) and demand.qos.tolist() == [-1, 0, -1]


def test_a_partition_the_site_lacks_is_an_error_naming_both() -> None:
    header = SwfHeader(keys={"Partitions": "1=batch,2=bigmem"})
    with pytest.raises(SiteError, match=r"partitions \['bigmem'\] are not in site 's'"):
        demand_from_trace(_jobs(), header, SITE)

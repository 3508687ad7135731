"""An SWF trace's jobs mapped onto a site: which partition each job asks for, and what else.

A trace written by `schedsight slurm import` names its partitions in its header
(`; Partitions: 1=batch,2=gpu`); each job goes to the site partition of that name. A trace
without names (a published SWF log) sends every job to the site's default partition. SWF
has no GPU or QOS column: jobs ask for none; memory is the trace's per-processor request.
"""

from __future__ import annotations

import numpy as np

from hpc.errors import SiteError
from hpc.model import JobTable
from hpc.sim.site_jobs import SiteDemand
from hpc.site.model import Site
from hpc.workload.trace import SwfHeader


def partition_names(header: SwfHeader) -> dict[int, str]:
    """SWF partition numbers -> names, from a `Partitions: 1=batch,2=gpu` header line."""
    names: dict[int, str] = {}
    for item in header.keys.get("Partitions", "").replace("\n", ",").split(","):
        number, sep, name = item.strip().partition("=")
        if sep and number.strip().isdigit() and name.strip():
            names[int(number)] = name.strip()
    return names


def demand_from_trace(jobs: JobTable, header: SwfHeader, site: Site) -> SiteDemand:
    """Each job's partition (by name where the trace names them), memory, and no GPUs."""
    demand = SiteDemand.plain(jobs, site)
    names = partition_names(header)
    if names:
        index = {p.name: i for i, p in enumerate(site.partitions)}
        missing = sorted({n for n in names.values() if n not in index})
        if missing:
            raise SiteError(
                f"the trace's partitions {missing} are not in site {site.name!r} (it has "
                f"{', '.join(index)}): import the site of the cluster the trace came from"
            )
        default = site.partitions.index(site.partition(None))
        lookup = {number: index[name] for number, name in names.items()}
        parts = [lookup.get(int(p), default) for p in jobs.partition.tolist()]
        demand = SiteDemand(
            partition=np.array(parts, dtype=np.int64), nodes=demand.nodes, gpus=demand.gpus,
            mem_mb=demand.mem_mb, account=demand.account, qos=demand.qos,
        )  # fmt: skip
    per_proc_kb = np.maximum(jobs.req_mem_kb, 0)
    mem_mb = (per_proc_kb * jobs.procs) // 1024
    return SiteDemand(
        partition=demand.partition, nodes=demand.nodes, gpus=demand.gpus, mem_mb=mem_mb,
        account=demand.account, qos=demand.qos,
    )  # fmt: skip

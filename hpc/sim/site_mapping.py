"""An SWF trace's jobs mapped onto a site: which partition each job asks for, and what else.

A trace written by `schedsight slurm import` names its partitions in its header
(`; Partitions: 1=batch,2=gpu`); each job goes to the site partition of that name. A trace
without names (a published SWF log) sends every job to the site's default partition. SWF
has no GPU or QOS column: jobs ask for none; memory is the trace's per-processor request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from hpc.errors import SiteError
from hpc.model import IntArray, JobTable
from hpc.sim.site_jobs import SiteDemand
from hpc.site.model import JobResources, Site
from hpc.workload.trace import SwfHeader


def partition_names(header: SwfHeader) -> dict[int, str]:
    """SWF partition numbers -> names, from a `Partitions: 1=batch,2=gpu` header line."""
    names: dict[int, str] = {}
    for item in header.keys.get("Partitions", "").replace("\n", ",").split(","):
        number, sep, name = item.strip().partition("=")
        if sep and number.strip().isdigit() and name.strip():
            names[int(number)] = name.strip()
    return names


def demand_from_trace(
    jobs: JobTable,
    header: SwfHeader,
    site: Site,
    resources: Mapping[int, JobResources] | None = None,
) -> SiteDemand:
    """Each job's partition (by name where the trace names them) and memory; GPUs, account,
    QOS and nodes from `resources` (by job number) where a Slurm import kept them."""
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
        demand = dataclasses.replace(demand, partition=np.array(parts, dtype=np.int64))
    mem_mb = (np.maximum(jobs.req_mem_kb, 0) * jobs.procs) // 1024
    if not resources:
        return dataclasses.replace(demand, mem_mb=mem_mb)
    return _with_resources(jobs, demand.partition, mem_mb, site, resources)


def _with_resources(
    jobs: JobTable,
    partition: IntArray,
    mem_mb: IntArray,
    site: Site,
    resources: Mapping[int, JobResources],
) -> SiteDemand:
    rows = [resources.get(j, JobResources(j)) for j in jobs.job_id.tolist()]
    accounts = sorted({r.account for r in rows})
    qos_names = sorted({r.qos for r in rows if r.qos})
    account_ix = {a: i for i, a in enumerate(accounts)}
    qos_ix = {q: i for i, q in enumerate(qos_names)}
    return SiteDemand(
        partition=partition,
        nodes=np.array([r.nodes for r in rows], dtype=np.int64),
        gpus=np.array([r.gpus for r in rows], dtype=np.int64),
        mem_mb=mem_mb,
        account=np.array([account_ix[r.account] for r in rows], dtype=np.int64),
        qos=np.array([qos_ix.get(r.qos, -1) for r in rows], dtype=np.int64),
        accounts=tuple(accounts),
        qos_names=tuple(qos_names),
    )

"""What each job asks of a site beyond a `JobTable`: GPUs, nodes, memory, account, QOS.

A `SiteDemand` holds those columns beside the table (aligned with it, one entry per job),
with the name tables that the integer columns index. `SiteDemand.plain(jobs, site)` maps a
workload that knows only processors (an SWF trace) onto a site: every job in the default
partition, no GPUs, any nodes, so a one-partition site replays it exactly as the one-pool
engine does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpc.errors import SiteError
from hpc.model import IntArray, JobTable
from hpc.site.model import Site


@dataclass(frozen=True, slots=True)
class SiteDemand:
    """Per-job requests beyond processors. `partition` indexes `site.partitions`; `qos`
    indexes `qos_names` (-1: none); `account` indexes `accounts`; `nodes` 0 means any."""

    partition: IntArray
    nodes: IntArray
    gpus: IntArray
    mem_mb: IntArray  # per job; 0: not asked (or not known)
    account: IntArray
    qos: IntArray
    accounts: tuple[str, ...] = ("",)
    qos_names: tuple[str, ...] = ()
    users: tuple[str, ...] = ()  # names of JobTable.user ids where known (by id order)

    def __post_init__(self) -> None:
        n = len(self.partition)
        for name in ("nodes", "gpus", "mem_mb", "account", "qos"):
            if len(getattr(self, name)) != n:
                raise SiteError(f"SiteDemand column {name} has the wrong length")

    def __len__(self) -> int:
        return len(self.partition)

    @classmethod
    def plain(cls, jobs: JobTable, site: Site) -> SiteDemand:
        """Processors only: the default partition, any nodes, no GPUs, memory unasked."""
        n = len(jobs)
        default = site.partitions.index(site.partition(None))
        zeros = np.zeros(n, dtype=np.int64)
        return cls(
            partition=np.full(n, default, dtype=np.int64),
            nodes=zeros,
            gpus=zeros.copy(),
            mem_mb=zeros.copy(),
            account=zeros.copy(),
            qos=np.full(n, -1, dtype=np.int64),
        )

    def check(self, jobs: JobTable, site: Site) -> None:
        """Every job names a partition of the site and asks for something it can express."""
        if len(self) != len(jobs):
            raise SiteError(f"{len(self)} demands for {len(jobs)} jobs")
        if len(self) and (self.partition.min() < 0 or self.partition.max() >= len(site.partitions)):
            raise SiteError("a job names a partition index the site does not have")
        if len(self) and (self.gpus.min() < 0 or self.nodes.min() < 0 or self.mem_mb.min() < 0):
            raise SiteError("GPUs, nodes and memory asked for cannot be negative")

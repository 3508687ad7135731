"""The nodes of a site during a replay: what each has free, where a job fits, and when.

A job asks for cores, GPUs and memory in total, and for a node count (0: as few nodes as
fit). On k nodes it needs ceil(cores / k), ceil(GPUs / k) and ceil(memory / k) on each, as
Slurm's `--nodes=k` spreads it; it takes the first k eligible nodes in the site's order.
A node is eligible for a job starting at t if it is in the job's partition and no
reservation covers it during [t, t + requested time). Memory is enforced only on node types
that declare it (an SWF machine does not).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hpc.model import IntArray
from hpc.site.model import Site

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a job runs: node indices and, on each, the cores, GPUs and memory it holds."""

    nodes: IntArray
    cores: int
    gpus: int
    mem_mb: int


class NodePool:
    """Free resources per node, the partitions' node masks and the reservations."""

    def __init__(self, site: Site) -> None:
        names = list(site.nodes)
        self.names = names
        index = {n: i for i, n in enumerate(names)}
        types = [site.node_type(n) for n in names]
        self.cap_cores = np.array([t.cores for t in types], dtype=np.int64)
        self.cap_gpus = np.array([t.gpus for t in types], dtype=np.int64)
        self.cap_mem = np.array([t.mem_mb for t in types], dtype=np.int64)
        self.free_cores = self.cap_cores.copy()
        self.free_gpus = self.cap_gpus.copy()
        self.free_mem = self.cap_mem.copy()
        self.total_free_cores = int(self.cap_cores.sum())  # cheap first test before numpy's
        self.total_free_gpus = int(self.cap_gpus.sum())
        self.mem_known = self.cap_mem > 0
        self.partition_mask: list[BoolArray] = []
        for p in site.partitions:
            mask = np.zeros(len(names), dtype=np.bool_)
            mask[[index[n] for n in p.nodes]] = True
            self.partition_mask.append(mask)
        self.reservations = [
            (r.start_s, r.end_s, np.isin(np.arange(len(names)), [index[n] for n in r.nodes]))
            for r in site.reservations
        ]

    def eligible(self, partition: int, start_s: int, end_s: int) -> BoolArray:
        """Nodes of the partition that no reservation covers during [start_s, end_s)."""
        mask = self.partition_mask[partition]
        for r_start, r_end, nodes in self.reservations:
            if r_start < end_s and start_s < r_end:
                mask = mask & ~nodes
        return mask

    def fit(
        self,
        mask: BoolArray,
        want: tuple[int, int, int, int],
        free: tuple[IntArray, IntArray, IntArray] | None = None,
    ) -> Placement | None:
        """Where (nodes, cores, GPUs, memory) fits on the nodes of `mask` now, or None.

        `free` replaces the pool's free arrays (a look-ahead at a later time)."""
        nodes, cores, gpus, mem = want
        fc, fg, fm = free or (self.free_cores, self.free_gpus, self.free_mem)
        # As few nodes as fit, each holding at least one of the job's cores.
        counts: Sequence[int] = [nodes] if nodes > 0 else range(1, min(int(mask.sum()), cores) + 1)
        for k in counts:
            per_c, per_g, per_m = -(-cores // k), -(-gpus // k), -(-mem // k)
            ok = mask & (fc >= per_c) & (fg >= per_g) & (~self.mem_known | (fm >= per_m))
            chosen = np.flatnonzero(ok)
            if len(chosen) >= k:
                return Placement(chosen[:k], per_c, per_g, per_m)
        return None

    def can_ever_fit(self, partition: int, want: tuple[int, int, int, int]) -> bool:
        """Whether the job fits on its partition when every node there is empty."""
        empty = (self.cap_cores, self.cap_gpus, self.cap_mem)
        return self.fit(self.partition_mask[partition], want, empty) is not None

    def may_fit(self, want: tuple[int, int, int, int]) -> bool:
        """False when the whole site has fewer free cores or GPUs than the job asks."""
        return want[1] <= self.total_free_cores and want[2] <= self.total_free_gpus

    def take(self, place: Placement) -> None:
        self.total_free_cores -= place.cores * len(place.nodes)
        self.total_free_gpus -= place.gpus * len(place.nodes)
        self.free_cores[place.nodes] -= place.cores
        self.free_gpus[place.nodes] -= place.gpus
        self.free_mem[place.nodes] -= place.mem_mb

    def give_back(self, place: Placement) -> None:
        self.total_free_cores += place.cores * len(place.nodes)
        self.total_free_gpus += place.gpus * len(place.nodes)
        self.free_cores[place.nodes] += place.cores
        self.free_gpus[place.nodes] += place.gpus
        self.free_mem[place.nodes] += place.mem_mb

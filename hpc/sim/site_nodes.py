"""The nodes of a site during a replay: what each has free, where a job fits, and when.

A job asks for cores, GPUs and memory in total, and for a node count (0: as few nodes as
fit). Nodes are chosen as Slurm's select/cons_tres chooses them: the run of consecutive
usable nodes with the fewest usable cores that suffice ("best fit"), one node of it where
one holds the job (`_best_fit_node`), else the job's tasks spread over the run, each node
giving what it has free (`_spread`); a GPU job, whose GPUs Slurm counts per node, splits
evenly over as few nodes as fit. With a node count k (Slurm's `--nodes=k`) a job needs
ceil(cores / k), ceil(GPUs / k) and ceil(memory / k) on each of the first k eligible nodes.
A node is eligible for a job starting at t if it is in the job's partition and no
reservation covers it during [t, t + requested time). Memory is enforced only on node types
that declare it (an SWF machine does not).
With `topology` set, a job that no one node holds lands under one switch instead, on the
fewest leaf switches (`hpc.sim.site_topology`).

The state is `array.array`s of 64-bit ints, not numpy arrays: partitions have a few to a few
hundred nodes, and a replay asks millions of tiny questions of them, where numpy's per-call
overhead dominates. Compiled (`hpc.sim.native`), the hot methods read them as typed
memoryviews, in C; in plain Python they index like lists. Each partition's free cores and
GPUs are kept as sums too, so that a job that cannot fit is turned away without looking at
a node.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeAlias

import numpy as np

from hpc.model import IntArray
from hpc.site.model import Site

Want = tuple[int, int, int, int]  # nodes (0: any), cores, GPUs, memory MB, all in total
PerNode = tuple[int, ...]
Slot = tuple[PerNode, PerNode, PerNode, PerNode]  # node indices; cores, GPUs, memory on each
Ints: TypeAlias = "array[int]"  # per node or per partition, 64-bit ("q")
Free = tuple[Ints, Ints, Ints]  # cores, GPUs, memory free per node


def ints(values: Iterable[int]) -> Ints:
    """An `Ints` of `values`."""
    return array("q", values)


class Topology(Protocol):
    """How multi-node jobs are placed under a switch tree (`hpc.sim.site_topology.SwitchTree`)."""

    def choose(self, nodes: Sequence[int], amounts: Sequence[int] | None, need: int) -> list[int]:
        """Nodes giving `need` in all under one switch on the fewest leaves; [] if none."""
        ...


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a job runs: node indices and, on each, the cores, GPUs and memory it holds."""

    nodes: IntArray
    cores: IntArray  # on each node, aligned with `nodes`
    gpus: IntArray
    mem_mb: IntArray


class NodePool:
    """Free resources per node and per partition, the partitions' nodes, the reservations."""

    def __init__(self, site: Site) -> None:
        names = list(site.nodes)
        self.names = names
        index = {n: i for i, n in enumerate(names)}
        types = [site.node_type(n) for n in names]
        self.cap: Free = (ints(t.cores for t in types), ints(t.gpus for t in types),
                          ints(t.mem_mb for t in types))  # fmt: skip
        self.free_cores, self.free_gpus, self.free_mem = (ints(a) for a in self.cap)
        self.mem_known = bytes(t.mem_mb > 0 for t in types)  # 1: memory is enforced there
        self.partition_nodes = [tuple(sorted(index[n] for n in set(p.nodes)))
                                for p in site.partitions]  # fmt: skip
        self.partition_set = [frozenset(nodes) for nodes in self.partition_nodes]
        # The same as bytes, 1 at each node of the partition: read by index in C where
        # compiled (`site_reservations.earliest`), not hashed.
        self.partition_mask = [bytes(i in nodes for i in range(len(names)))
                               for nodes in self.partition_set]  # fmt: skip
        # The partitions holding each node, and each partition's free cores and GPUs.
        self.parts_of: list[tuple[int, ...]] = [
            tuple(p for p, nodes in enumerate(self.partition_set) if i in nodes)
            for i in range(len(names))
        ]
        # Room for `site_reservations.earliest` to keep a partition's free resources in.
        self.saved = ints([0] * 3 * max((len(n) for n in self.partition_nodes), default=0))
        self.part_cores = ints(sum(self.cap[0][i] for i in nodes)
                               for nodes in self.partition_nodes)  # fmt: skip
        self.part_gpus = ints(sum(self.cap[1][i] for i in nodes)
                              for nodes in self.partition_nodes)  # fmt: skip
        self._one_node_slots: dict[tuple[int, int, int, int], Slot] = {}
        # Per partition, how many times its nodes' free resources changed; per ask (a
        # (partition, want) the replay numbers, `number_asks`), the try of `fit_now` and
        # the count it was made at (-1: none yet).
        self.changes = ints([0] * len(self.partition_nodes))
        self._fit_count = ints(())
        self._fit_slot: list[Slot | None] = []
        self._ever = ints(())  # per ask: fits the empty partition (1) or not (0); -1: unknown
        self.topology: Topology | None = None  # set: multi-node jobs placed by topology
        self.reservations = [
            (r.start_s, r.end_s, frozenset(index[n] for n in r.nodes)) for r in site.reservations
        ]

    def eligible(self, partition: int, start_s: int, end_s: int) -> tuple[int, ...]:
        """Nodes of the partition that no reservation covers during [start_s, end_s)."""
        nodes = self.partition_nodes[partition]
        for r_start, r_end, taken in self.reservations:
            if r_start < end_s and start_s < r_end:
                nodes = tuple([n for n in nodes if n not in taken])
        return nodes

    def fit(self, nodes: Sequence[int], want: Want, free: Free | None = None) -> Slot | None:
        """Where `want` fits on `nodes` (in order) now, or None; `free` replaces the pool's
        free resources (a look-ahead at a later time, where a value may be below zero)."""
        if free is None:
            return self.fit_on(nodes, want, self.free_cores, self.free_gpus, self.free_mem)
        return self.fit_on(nodes, want, free[0], free[1], free[2])

    def fit_on(self, nodes: Sequence[int], want: Want, fc: Ints, fg: Ints, fm: Ints) -> Slot | None:
        """`fit` with the free cores, GPUs and memory per node given apart."""
        count, cores, gpus, mem = want
        known = self.mem_known
        if count > 0:
            per_c, per_g, per_m = -(-cores // count), -(-gpus // count), -(-mem // count)
            chosen = [
                n
                for n in nodes
                if fc[n] >= per_c and fg[n] >= per_g and (fm[n] >= per_m or not known[n])
            ]
            if len(chosen) < count:
                return None
            if count > 1 and self.topology is not None:
                chosen = self.topology.choose(chosen, None, count)
                if not chosen:
                    return None
            return tuple(chosen[:count]), (per_c,) * count, (per_g,) * count, (per_m,) * count
        if cores <= 0 or not nodes:
            return None
        if not gpus:
            return self._cpu_fit(nodes, want, fc, fm)
        one = self._best_fit_node(nodes, want, fc, fg, fm)
        if one is not None:  # GPUs are asked per node (--gres): one node if one holds them
            return self._one_node(one, want)
        for k in range(2, min(len(nodes), cores) + 1):  # else split evenly over fewest nodes
            slot = self.fit_on(nodes, (k, cores, gpus, mem), fc, fg, fm)
            if slot is not None:
                return slot
        return None

    def number_asks(self, count: int) -> None:
        """Make room for the answers of `fit_now` and `can_ever_fit` to `count` asks,
        numbered 0 to count - 1."""
        self._fit_count = ints([-1] * count)
        self._fit_slot = [None] * count
        self._ever = ints([-1] * count)

    def fit_now(self, ask: int, partition: int, want: Want) -> Slot | None:
        """`fit` on all of the partition's nodes now (for when no site reservation is left):
        the answer depends on nothing but the ask (numbered: `number_asks`) and those nodes'
        free resources, so it is remembered until one of them changes."""
        count = self.changes[partition]
        if self._fit_count[ask] == count:
            return self._fit_slot[ask]
        slot = self.fit_on(self.partition_nodes[partition], want, self.free_cores,
                           self.free_gpus, self.free_mem)  # fmt: skip
        self._fit_count[ask] = count
        self._fit_slot[ask] = slot
        return slot

    def _one_node(self, node: int, want: Want) -> Slot:
        """The slot of a job on one node; equal slots are shared (most jobs take one node)."""
        key = (node, want[1], want[2], want[3])
        slot = self._one_node_slots.get(key)
        if slot is None:
            slot = self._one_node_slots[key] = ((node,), (want[1],), (want[2],), (want[3],))
        return slot

    def _cpu_fit(self, nodes: Sequence[int], want: Want, fc: Ints, fm: Ints) -> Slot | None:
        """A CPU job's nodes, as select/cons_tres gives tasks that may spread: the run of
        consecutive usable nodes whose usable cores in all are fewest yet enough ("best
        fit"); there, the node with the fewest usable cores that holds the whole job, else
        the job's tasks spread over the run in order, each node giving what it has free.
        With no run enough alone, the largest runs together. (On the dev cluster Slurm
        22.05 spreads a 16-task job over three part-used nodes of a small run rather than
        take a whole free node of a larger one: sacct's NodeList, bench/twin_fidelity.py.)"""
        _, cores, _, mem = want
        known = self.mem_known
        by_mem = mem > 0
        best_total, best_one, best_start, best_end = -1, -1, 0, 0  # the run chosen
        total, one, one_u, start, last, grand = 0, -1, 0, 0, -2, 0
        for i, n in enumerate(nodes):
            u = fc[n]  # `usable(n)`, written out: this loop is the replay's hottest
            # Memory caps u where it serves fewer than u + 1 cores: then at
            # free memory // (memory per core) cores, worked out in integers.
            if by_mem and known[n] and u > 0:
                free_mem = fm[n]
                if free_mem * cores < (u + 1) * mem:
                    u_mem = free_mem * cores // mem
                    if u_mem < u:
                        u = u_mem
            if u <= 0 or n != last + 1:
                if total >= cores and (best_total < 0 or total < best_total):
                    best_total, best_one, best_start, best_end = total, one, start, i
                total, one, start, last = 0, -1, i, -2
            if u > 0:
                total += u
                grand += u
                if u >= cores and (one < 0 or u < one_u):
                    one, one_u = n, u
                last = n
        if total >= cores and (best_total < 0 or total < best_total):  # the last run
            best_total, best_one, best_start, best_end = total, one, start, len(nodes)
        if best_one >= 0:
            return self._one_node(best_one, want)
        if grand < cores:  # not enough usable cores on all the nodes together
            return None
        if self.topology is not None:  # under as few switches as hold it (topology/tree)
            amounts = [self._usable(n, fc, fm, cores, mem) for n in nodes]
            under = self.topology.choose(nodes, amounts, cores)
            return self._spread(under, want, fc, fm) if under else None
        if best_total >= 0:
            return self._spread(nodes[best_start:best_end], want, fc, fm)
        return self._spread_runs(nodes, want, fc, fm)

    def _usable(self, n: int, fc: Ints, fm: Ints, cores: int, mem: int) -> int:
        """A node's usable cores for a job asking `mem` MB for `cores` cores: its free
        cores, fewer where its free memory serves fewer (on nodes that declare memory)."""
        free = fc[n]
        if mem > 0 and self.mem_known[n]:
            free = min(free, fm[n] * cores // mem)
        return max(free, 0)

    def _spread_runs(self, nodes: Sequence[int], want: Want, fc: Ints, fm: Ints) -> Slot | None:
        """A CPU job no run of consecutive usable nodes holds alone: the largest runs
        together, in node order, or None if all of them are not enough."""
        cores, mem = want[1], want[3]
        runs: list[list[int]] = []
        totals: list[int] = []  # each run's usable cores
        last = -2
        for n in nodes:
            u = self._usable(n, fc, fm, cores, mem)
            if u <= 0:
                last = -2
                continue
            if n != last + 1 or not runs:
                runs.append([])
                totals.append(0)
            runs[-1].append(n)
            totals[-1] += u
            last = n
        if sum(totals) < cores:
            return None
        chosen: list[int] = []
        have = 0
        for _, i in sorted([(-totals[i], i) for i in range(len(runs))]):  # largest first
            chosen += runs[i]
            have += totals[i]
            if have >= cores:
                break
        return self._spread(sorted(chosen), want, fc, fm)

    def _spread(self, nodes: Sequence[int], want: Want, fc: Ints, fm: Ints) -> Slot:
        """The job's tasks over `nodes` in order (usable cores enough in all), each node
        giving as many cores as it has usable, and memory in proportion."""
        _, cores, _, mem = want
        picked: list[int] = []
        c_on: list[int] = []
        m_on: list[int] = []
        left_c, left_m = cores, mem
        for n in nodes:
            if left_c <= 0:
                break
            c = min(self._usable(n, fc, fm, cores, mem), left_c)
            if c <= 0:
                continue
            m = min(left_m, -(-c * mem // cores))
            picked.append(n)
            c_on.append(c)
            m_on.append(m)
            left_c, left_m = left_c - c, left_m - m
        return tuple(picked), tuple(c_on), (0,) * len(picked), tuple(m_on)

    def _best_fit_node(
        self, nodes: Sequence[int], want: Want, fc: Ints, fg: Ints, fm: Ints
    ) -> int | None:
        """The node Slurm's select/cons_tres would give a job that one node can hold: it
        splits the usable nodes into runs of consecutive ones, takes the run whose usable
        cores in all are fewest yet enough ("best fit", which packs jobs onto partly used
        nodes and leaves whole runs free), and there the node with the fewest free cores
        that holds the job (the first of equals), as Slurm 22.05-26.05 do on the dev
        cluster (bench/twin_fidelity.py compares with sacct's NodeList)."""
        _, cores, gpus, mem = want
        known = self.mem_known
        best: tuple[int, int] | None = None  # (run's usable cores, the node chosen)
        total, fit, last = 0, -1, -2
        for n in (*nodes, -2):  # -2 closes the last run
            usable = n >= 0 and fc[n] > 0 and (fg[n] > 0 or not gpus)
            if not usable or n != last + 1:
                if fit >= 0 and total >= cores and (best is None or total < best[0]):
                    best = (total, fit)
                total, fit, last = 0, -1, -2
            if usable:
                total += fc[n]
                if (
                    (fit < 0 or fc[n] < fc[fit])
                    and fc[n] >= cores
                    and fg[n] >= gpus
                    and (fm[n] >= mem or not known[n])
                ):
                    fit = n
                last = n
        return None if best is None else best[1]

    def may_fit(self, partition: int, want: Want) -> bool:
        """False when the partition has fewer free cores or GPUs in all than the job asks."""
        return want[1] <= self.part_cores[partition] and want[2] <= self.part_gpus[partition]

    def can_ever_fit(self, ask: int, partition: int, want: Want) -> bool:
        """Whether the job fits on its partition when every node there is empty (worked out
        once per ask, numbered: `number_asks`; the answer depends on nothing else)."""
        if self._ever[ask] < 0:
            fits = self.fit(self.partition_nodes[partition], want, self.cap) is not None
            self._ever[ask] = int(fits)
        return self._ever[ask] == 1

    def take(self, slot: Slot, sign: int = 1) -> None:
        """Hold `slot`'s resources (sign -1: give them back)."""
        # One by one, not unpacked from a tuple: compiled, each stays a typed memoryview.
        fc = self.free_cores
        fg = self.free_gpus
        fm = self.free_mem
        part_cores = self.part_cores
        part_gpus = self.part_gpus
        changes = self.changes
        nodes, cores, gpus, mem = slot
        for i in range(len(nodes)):  # indexed, not zipped: the compiled loop stays in C
            n, c, g, m = nodes[i], sign * cores[i], sign * gpus[i], sign * mem[i]
            fc[n] -= c
            fg[n] -= g
            fm[n] -= m
            for p in self.parts_of[n]:
                part_cores[p] -= c
                part_gpus[p] -= g
                changes[p] += 1

    def give_back(self, slot: Slot) -> None:
        self.take(slot, -1)


def placements(slots: Sequence[Slot | None]) -> list[Placement | None]:
    """`Placement`s of the slots; jobs with equal slots share one read-only `Placement`."""
    made: dict[Slot, Placement] = {}
    out: list[Placement | None] = []
    for slot in slots:
        if slot is None:
            out.append(None)
            continue
        place = made.get(slot)
        if place is None:
            arrays = [np.array(v, dtype=np.int64) for v in slot]
            for array in arrays:
                array.flags.writeable = False
            place = made[slot] = Placement(*arrays)
        out.append(place)
    return out

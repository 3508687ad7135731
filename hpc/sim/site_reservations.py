"""Backfill reservations in a site replay: the earliest time a blocked job's partition can
hold it, and whether a job starting now keeps every reservation made before it.

`earliest` walks the candidate times in order (now, the requested ends of running jobs,
the ends of earlier reservations and of site reservations), releasing running jobs as it
goes. Between two candidates a job's chance only shrinks (its window overlaps more
reservations), so it tries to place the job only where something changed for its
partition, and only where the partition's free cores and GPUs add up to the job's: the
first time found is the one a try at every candidate would find.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hpc.sim.site_nodes import Free, NodePool, PerNode, Slot, Want
from hpc.sim.state import NEVER


@dataclass
class Hold:
    """A blocked job's promise: its nodes from `start_s`, and what others may still use."""

    start_s: int
    end_s: int
    nodes: tuple[int, ...]
    node_set: frozenset[int]
    need: tuple[PerNode, PerNode, PerNode]  # cores, GPUs, memory on each of `nodes`
    spare: dict[int, list[int]]  # per node held: cores, GPUs, memory free beyond the need


def earliest(
    pool: NodePool,
    expected: list[tuple[int, int]],
    slots: list[Slot | None],
    now: int,
    job: tuple[int, int, Want],
    held: Sequence[Hold],
) -> Hold | None:
    """The earliest hold for `job` (requested time, partition, want), after the requested
    ends of running jobs (`expected`, sorted (end, job)) and around the holds already made;
    None: nothing in the horizon."""
    _, partition, want = job
    mine = pool.partition_mask[partition]  # 1 at the partition's nodes
    free: Free = (pool.free_cores[:], pool.free_gpus[:], pool.free_mem[:])
    fc, fg, fm = free
    cores, gpus = pool.part_cores[partition], pool.part_gpus[partition]
    ends = [h.end_s for h in held] + [r[1] for r in pool.reservations]
    later = sorted({t for t in ends if t > now})
    k = li = 0
    n_expected, n_later = len(expected), len(later)
    t, changed = now, True
    while True:
        while k < n_expected:
            entry = expected[k]
            at = entry[0]
            if at > t:
                break
            slot = slots[entry[1]]
            assert slot is not None
            nodes, c_on, g_on, m_on = slot
            for i in range(len(nodes)):  # indexed, not zipped: the compiled loop stays in C
                n = nodes[i]
                if mine[n]:  # the tries read only the partition's nodes
                    c, g, m = c_on[i], g_on[i], m_on[i]
                    fc[n] += c
                    fg[n] += g
                    fm[n] += m
                    cores += c
                    gpus += g
                    changed = True
            k += 1
        while li < n_later and later[li] <= t:
            li += 1
            changed = True
        if changed and want[1] <= cores and want[2] <= gpus:
            found = _hold_at(pool, t, job, held, free)
            if found is not None:
                return found
        changed = False
        t = expected[k][0] if k < n_expected else NEVER
        if li < n_later and later[li] < t:
            t = later[li]
        if t == NEVER:
            return None


def _hold_at(
    pool: NodePool, t: int, job: tuple[int, int, Want], held: Sequence[Hold], free: Free
) -> Hold | None:
    """The hold for `job` at `t` given what is free then, or None if it does not fit."""
    req, partition, want = job
    end = t + req
    over = [h for h in held if h.start_s < end and t < h.end_s]
    if over:
        free = (free[0][:], free[1][:], free[2][:])
        for h in over:
            on, (c_need, g_need, m_need) = h.nodes, h.need
            for i in range(len(on)):  # indexed, not zipped: the compiled loop stays in C
                n = on[i]
                free[0][n] -= c_need[i]
                free[1][n] -= g_need[i]
                free[2][n] -= m_need[i]
    slot = pool.fit(pool.eligible(partition, t, end), want, free)
    if slot is None:
        return None
    nodes, c, g, m = slot
    fc, fg, fm = free
    spare = {}
    for i in range(len(nodes)):  # indexed, not zipped: the compiled loop stays in C
        n = nodes[i]
        spare[n] = [fc[n] - c[i], fg[n] - g[i], fm[n] - m[i]]
    return Hold(t, end, nodes, frozenset(nodes), (c, g, m), spare)


def respects(slot: Slot, end: int, held: Sequence[Hold], mem_known: Sequence[bool]) -> bool:
    """Whether a job on `slot` until `end` (requested) delays no hold; if so, the holds'
    spares shrink by what it takes."""
    nodes, c_on, g_on, m_on = slot
    touched = [h for h in held if end > h.start_s and not h.node_set.isdisjoint(nodes)]
    for h in touched:
        for i in range(len(nodes)):  # indexed, not zipped: the compiled loop stays in C
            n = nodes[i]
            s = h.spare.get(n)
            if s is not None and (
                s[0] < c_on[i] or s[1] < g_on[i] or (s[2] < m_on[i] and mem_known[n])
            ):
                return False
    for h in touched:
        for i in range(len(nodes)):
            s = h.spare.get(nodes[i])
            if s is not None:
                s[0] -= c_on[i]
                s[1] -= g_on[i]
                s[2] -= m_on[i]
    return True

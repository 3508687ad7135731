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

from hpc.sim.site_nodes import NodePool, PerNode, Slot, Want
from hpc.sim.state import NEVER


@dataclass
class Hold:
    """A blocked job's promise: its nodes from `start_s`, and what others may still use."""

    start_s: int
    end_s: int
    nodes: tuple[int, ...]
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
    None: nothing in the horizon.

    The look-ahead releases running jobs into the pool's own free resources, on the
    partition's nodes, which it puts back as they were before it returns (no copies of the
    free lists: the tries read the pool as it would be then)."""
    _, partition, want = job
    mine = pool.partition_mask[partition]  # 1 at the partition's nodes
    cores, gpus = pool.part_cores[partition], pool.part_gpus[partition]
    later: list[int] = []  # the ends of holds and site reservations after now, in order
    if held or pool.reservations:
        ends = [h.end_s for h in held] + [r[1] for r in pool.reservations]
        later = sorted({t for t in ends if t > now})
    k = li = 0
    n_expected, n_later = len(expected), len(later)
    t, changed = now, True
    fc = pool.free_cores
    fg = pool.free_gpus
    fm = pool.free_mem
    part_nodes = pool.partition_nodes[partition]
    saved = pool.saved  # the partition's nodes as they are, to be put back
    for i in range(len(part_nodes)):
        n = part_nodes[i]
        saved[3 * i] = fc[n]
        saved[3 * i + 1] = fg[n]
        saved[3 * i + 2] = fm[n]
    try:
        while True:
            while k < n_expected:
                entry = expected[k]
                at = entry[0]
                if at > t:
                    break
                job_id = entry[1]
                slot = slots[job_id]
                assert slot is not None
                nodes, c_on, g_on, m_on = slot
                for i in range(len(nodes)):  # indexed, not zipped: the compiled loop stays in C
                    n = nodes[i]
                    if mine[n]:  # the tries read only the partition's nodes
                        c, g = c_on[i], g_on[i]
                        fc[n] += c
                        fg[n] += g
                        fm[n] += m_on[i]
                        cores += c
                        gpus += g
                        changed = True
                k += 1
            while li < n_later and later[li] <= t:
                li += 1
                changed = True
            if changed and want[1] <= cores and want[2] <= gpus:
                found = _hold_at(pool, t, job, held)
                if found is not None:
                    return found
            changed = False
            t = expected[k][0] if k < n_expected else NEVER
            if li < n_later and later[li] < t:
                t = later[li]
            if t == NEVER:
                return None
    finally:
        for i in range(len(part_nodes)):
            n = part_nodes[i]
            fc[n] = saved[3 * i]
            fg[n] = saved[3 * i + 1]
            fm[n] = saved[3 * i + 2]


def _hold_at(
    pool: NodePool, t: int, job: tuple[int, int, Want], held: Sequence[Hold]
) -> Hold | None:
    """The hold for `job` at `t` given what the pool has free then, or None if it does not
    fit. The holds overlapping the job's time are taken out of the pool while it is tried,
    and given back before it returns."""
    req, partition, want = job
    end = t + req
    over = [h for h in held if h.start_s < end and t < h.end_s]
    for h in over:
        _reserve(pool, h, -1)
    try:
        fc = pool.free_cores
        fg = pool.free_gpus
        fm = pool.free_mem
        slot = pool.fit_on(pool.eligible(partition, t, end), want, fc, fg, fm)
        if slot is None:
            return None
        nodes, c, g, m = slot
        spare = {}
        for i in range(len(nodes)):  # indexed, not zipped: the compiled loop stays in C
            n = nodes[i]
            spare[n] = [fc[n] - c[i], fg[n] - g[i], fm[n] - m[i]]
        return Hold(t, end, nodes, (c, g, m), spare)
    finally:
        for h in over:
            _reserve(pool, h, 1)


def _reserve(pool: NodePool, hold: Hold, sign: int) -> None:
    """Take a hold's need out of the pool's free resources (sign -1), or put it back (1)."""
    fc = pool.free_cores
    fg = pool.free_gpus
    fm = pool.free_mem
    on, (c_need, g_need, m_need) = hold.nodes, hold.need
    for i in range(len(on)):  # indexed, not zipped: the compiled loop stays in C
        n = on[i]
        fc[n] += sign * c_need[i]
        fg[n] += sign * g_need[i]
        fm[n] += sign * m_need[i]


def respects(slot: Slot, end: int, held: Sequence[Hold], mem_known: bytes) -> bool:
    """Whether a job on `slot` until `end` (requested) delays no hold; if so, the holds'
    spares shrink by what it takes."""
    nodes, c_on, g_on, m_on = slot
    touched = [h for h in held if end > h.start_s]  # a hold spares only nodes it holds
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

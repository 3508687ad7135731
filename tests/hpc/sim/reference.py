"""A deliberately naive restatement of the scheduling rules, to check the engine against.

No heaps, no saved shadow, no incremental profile: every pass recomputes what it needs from
the list of running jobs and reservations, so it is slow (tiny workloads only) and easy to
read. Passes run at every arrival, completion and reservation time. It covers the queue
orders fcfs, sjf, wfp3 and unicep, all three backfill modes and kill at limit, without
capacity changes. Times are seconds since the start of the trace.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from hpc.model import JobTable, Machine

ORDERS = ("fcfs", "sjf", "wfp3", "unicep")


@dataclass(frozen=True, slots=True)
class Workload:
    """Plain lists, one entry per job in trace order; `units` as the machine allocates them."""

    submit: list[int]
    duration: list[int]  # seconds the job holds its units: min(run, req) with kill at limit
    req: list[int]
    units: list[int]
    capacity: int

    @classmethod
    def of(cls, jobs: JobTable, machine: Machine) -> Workload:
        cores = machine.cores_per_node if machine.node_exclusive else 1
        req = [max(int(r), 1) for r in jobs.req_time_s]
        run = [max(int(r), 0) for r in jobs.run_s]
        return cls(
            submit=[int(s) for s in jobs.submit_s],
            duration=[min(r, q) for r, q in zip(run, req, strict=True)],
            req=req,
            units=[max(math.ceil(int(p) / cores), 1) for p in jobs.procs],
            capacity=machine.units,
        )


@dataclass(slots=True)
class Outcome:
    start: list[int]
    # EASY only: some pass had several running jobs end at the shadow time and a scan that
    # stops at the first one that frees enough would see fewer extra units (see test_easy).
    shadow_tie: bool = False
    reservations: dict[int, int] = field(default_factory=dict)  # conservative, at submit


def simulate_naively(w: Workload, order: str, backfill: str) -> Outcome:
    """Start time of every job under `order:backfill`."""
    n = len(w.submit)
    out = Outcome(start=[-1] * n)
    end = [-1] * n
    running: list[int] = []
    waiting: list[int] = []
    reservation: dict[int, int] = {}
    arrived = 0

    def start(job: int, now: int) -> None:
        out.start[job] = now
        end[job] = now + w.duration[job]
        running.append(job)
        waiting.remove(job)
        reservation.pop(job, None)

    while arrived < n or running or reservation:
        events = [end[j] for j in running] + list(reservation.values())
        now = min(([w.submit[arrived]] if arrived < n else []) + events)
        finished = [j for j in running if end[j] == now]
        running[:] = [j for j in running if end[j] != now]
        early = any(out.start[j] + w.req[j] > now for j in finished)
        new = []
        while arrived < n and w.submit[arrived] == now:
            new.append(arrived)
            arrived += 1
        key = _queue_key(order, w, now)
        if backfill == "conservative":
            waiting.sort(key=key)
            if early:  # compress: in queue order, each job moves to its earliest slot
                for job in waiting:
                    del reservation[job]
                    reservation[job] = _earliest(w, job, now, running, out.start, reservation)
            for job in new:
                reservation[job] = _earliest(w, job, now, running, out.start, reservation)
                out.reservations[job] = reservation[job]
                waiting.append(job)
            for job in [j for j in waiting if reservation[j] <= now]:
                start(job, now)
            continue
        waiting.extend(new)
        waiting.sort(key=key)
        free = w.capacity - sum(w.units[j] for j in running)
        while waiting and w.units[waiting[0]] <= free:
            free -= w.units[waiting[0]]
            start(waiting[0], now)
        if backfill == "easy" and waiting:
            shadow, extra = _shadow(w, waiting[0], free, running, out)
            for job in list(waiting[1:]):
                u = w.units[job]
                if u > free:
                    continue
                if now + w.req[job] <= shadow:
                    start(job, now)
                elif u <= extra:
                    start(job, now)
                    extra -= u
                else:
                    continue
                free -= u
    return out


def _queue_key(order: str, w: Workload, now: int) -> Callable[[int], tuple[float, int]]:
    """Smallest first; ties by trace order."""
    if order == "fcfs":
        return lambda j: (0.0, j)
    if order == "sjf":
        return lambda j: (float(w.req[j]), j)
    size = [float(u) for u in w.units]
    req = [float(r) for r in w.req]
    if order == "wfp3":
        return lambda j: (-(((now - w.submit[j]) / req[j]) ** 3) * size[j], j)
    if order == "unicep":
        return lambda j: (-(now - w.submit[j]) / (math.log2(size[j] + 1e-15) * req[j]), j)
    raise ValueError(order)


def _shadow(w: Workload, head: int, free: int, running: list[int], out: Outcome) -> tuple[int, int]:
    """(shadow time, extra units) of the blocked head, from requested ends."""
    need = w.units[head]
    ends = sorted({out.start[j] + w.req[j] for j in running})

    def free_at(t: int) -> int:
        return free + sum(w.units[j] for j in running if out.start[j] + w.req[j] <= t)

    shadow = next(t for t in ends if free_at(t) >= need)
    extra = free_at(shadow) - need
    # What a scan over running jobs (by requested end, then index) that stops as soon as
    # enough is free would count as extra.
    available = free
    for j in sorted(running, key=lambda j: (out.start[j] + w.req[j], j)):
        if available >= need:
            break
        available += w.units[j]
    out.shadow_tie |= available - need != extra
    return shadow, extra


def _earliest(
    w: Workload,
    job: int,
    now: int,
    running: list[int],
    start: list[int],
    reservation: dict[int, int],
) -> int:
    """Earliest t >= now with the job's units free over [t, t + req), by brute force.

    Busy intervals: running jobs until their requested end, waiting jobs over their
    reservations (the job itself is not in `reservation` while this runs).
    """
    busy = [(start[j], start[j] + w.req[j], w.units[j]) for j in running]
    busy += [(r, r + w.req[j], w.units[j]) for j, r in reservation.items() if j != job]

    def used(t: int) -> int:
        return sum(u for lo, hi, u in busy if lo <= t < hi)

    u, length = w.units[job], w.req[job]
    for t in sorted({now} | {hi for _, hi, _ in busy if hi > now}):
        points = [t] + [lo for lo, _, _ in busy if t < lo < t + length]
        if all(used(p) + u <= w.capacity for p in points):
            return t
    raise AssertionError("unreachable: the machine is empty after the last busy interval")

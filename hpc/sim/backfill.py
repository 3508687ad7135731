"""Scheduling passes: no backfilling and EASY backfilling (conservative is in its own module).

A pass starts waiting jobs in queue order until the head does not fit. With EASY, the
blocked head gets a reservation at the *shadow time* (when enough running jobs will have
reached their requested end), and a later job may start now if it fits the free units and
either ends by the shadow time or uses only the *extra* units the head will not need.

Cost: a full pass is O(queue) plus O(k log running) for the shadow walk. A pass caused only
by arrivals under a static order checks just the new jobs against the saved shadow and
extra, which is exact because nothing else changed; so an arrival costs O(log queue).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from heapq import heappop, heappush
from typing import Protocol

from hpc.errors import SimulationError
from hpc.sim.conservative import ConservativeBackfill
from hpc.sim.policy import BackfillMode
from hpc.sim.priority import StaticOrder
from hpc.sim.state import NEVER, RUNNING, Replay


class Backfill(Protocol):
    """What the engine calls; `schedule` runs once per distinct event time."""

    def schedule(self, now: int, first_new: int, end_new: int, freed: bool, reshaped: bool) -> None:
        """Jobs first_new..end_new-1 arrived; `freed`: some ended; `reshaped`: capacity moved."""

    def on_finish(self, job: int, now: int) -> None:
        """A running job ended (at or before its requested end)."""

    def on_reshape(self, now: int) -> None:
        """Capacity changed while nothing waited."""


class NoBackfill:
    """Strict queue order: nothing passes a blocked head."""

    def __init__(self, engine: Replay) -> None:
        self.engine = engine

    def on_finish(self, job: int, now: int) -> None:
        pass

    def on_reshape(self, now: int) -> None:
        pass

    def schedule(self, now: int, first_new: int, end_new: int, freed: bool, reshaped: bool) -> None:
        e = self.engine
        queue, order = e.queue, e.order
        head_before = queue[0] if queue else -1
        for job in range(first_new, end_new):
            order.insert(queue, job)
        if e.free <= 0:
            return
        if not (freed or reshaped or order.dynamic) and queue[0] == head_before:
            return  # the same head is still blocked and nothing was freed
        order.sort(queue, now)
        self._start_head_run(now)

    def _start_head_run(self, now: int) -> None:
        """Start jobs from the head of the queue while they fit."""
        e = self.engine
        queue, units = e.queue, e.units
        k = 0
        while k < len(queue) and units[queue[k]] <= e.free:
            e.start(queue[k], now)
            k += 1
        if k:
            del queue[:k]


class EasyBackfill(NoBackfill):
    """EASY (aggressive) backfilling: only the queue head holds a reservation."""

    def __init__(self, engine: Replay) -> None:
        super().__init__(engine)
        self.shadow = NEVER
        self.extra = 0
        self.valid = False  # shadow/extra describe the current head and can be reused

    def schedule(self, now: int, first_new: int, end_new: int, freed: bool, reshaped: bool) -> None:
        e = self.engine
        queue, order = e.queue, e.order
        if self.valid and queue and not (freed or reshaped) and isinstance(order, StaticOrder):
            head_rank = order.rank[queue[0]]
            if all(order.rank[j] > head_rank for j in range(first_new, end_new)):
                # In queue order, so that same-second arrivals compete by priority.
                for job in sorted(range(first_new, end_new), key=order.rank.__getitem__):
                    if not self._try_backfill(job, now):
                        order.insert(queue, job)
                return
        for job in range(first_new, end_new):
            order.insert(queue, job)
        self.valid = False
        if e.free <= 0:
            return
        order.sort(queue, now)
        self._start_head_run(now)
        if queue:
            self._reserve_head(now)
            self._backfill(now)

    def _try_backfill(self, job: int, now: int) -> bool:
        e = self.engine
        u = e.units[job]
        if u > e.free:
            return False
        if now + e.req[job] <= self.shadow:
            e.start(job, now)
            return True
        if u <= self.extra:
            e.start(job, now)
            self.extra -= u
            return True
        return False

    def _reserve_head(self, now: int) -> None:
        """Shadow time and extra units for the blocked head, from requested ends."""
        e = self.engine
        need = e.units[e.queue[0]]
        if need > e.capacity:  # cannot run until capacity returns: no reservation
            self.shadow, self.extra, self.valid = NEVER, e.capacity, False
            return
        expected, state, units = e.expected, e.state, e.units
        available = e.free
        shadow = now
        popped: list[tuple[int, int]] = []
        # Walk requested ends until the head fits, then take every job that ends at that
        # same moment too: their units are free at the shadow time as well (extra units).
        while expected and (available < need or expected[0][0] == shadow):
            entry = heappop(expected)
            if state[entry[1]] != RUNNING:
                continue  # ended early or was killed: drop for good
            if available >= need and entry[0] != shadow:
                heappush(expected, entry)
                break
            popped.append(entry)
            available += units[entry[1]]
            shadow = entry[0]
        for entry in popped:
            heappush(expected, entry)
        # A job already past its requested end (kill_at_limit off) makes the shadow move
        # with the clock, so the saved values may not be reused.
        self.valid = shadow >= now
        self.shadow = max(shadow, now)
        self.extra = available - need

    def _backfill(self, now: int) -> None:
        e = self.engine
        queue, units, req = e.queue, e.units, e.req
        shadow = self.shadow
        started = False
        for k in range(1, len(queue)):
            if e.free <= 0:
                break
            job = queue[k]
            u = units[job]
            if u > e.free:
                continue
            if now + req[job] <= shadow:
                e.start(job, now)
            elif u <= self.extra:
                e.start(job, now)
                self.extra -= u
            else:
                continue
            started = True
        if started:
            state = e.state
            queue[:] = [j for j in queue if state[j] != RUNNING]


BACKFILLS: Mapping[BackfillMode, Callable[[Replay], Backfill]] = {
    BackfillMode.NONE: NoBackfill,
    BackfillMode.EASY: EasyBackfill,
    BackfillMode.CONSERVATIVE: ConservativeBackfill,
}
_unregistered = [m.value for m in BackfillMode if m not in BACKFILLS]
if _unregistered:  # a new BackfillMode member must come with its pass above
    raise SimulationError(f"backfill modes without a pass in BACKFILLS: {', '.join(_unregistered)}")


def make_backfill(mode: BackfillMode, engine: Replay) -> Backfill:
    """The scheduling pass for `mode`, bound to `engine`."""
    factory = BACKFILLS.get(mode)
    if factory is None:
        raise SimulationError(f"backfill mode {mode!r} has no entry in hpc.sim.backfill.BACKFILLS")
    return factory(engine)

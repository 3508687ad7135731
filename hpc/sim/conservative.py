"""Conservative backfilling: every waiting job holds a reservation (Mu'alem & Feitelson 2001).

A job gets the earliest slot in the availability profile when it arrives, so no later job
can delay it. When a job ends before its requested time the schedule is compressed: in
priority order each waiting job moves to its earliest slot, which is never later than the
one it held. Capacity changes rebuild the profile from the running jobs.
"""

from __future__ import annotations

from heapq import heapify, heappop

from hpc.sim.profile import Profile
from hpc.sim.state import NEVER, RUNNING, Replay


class ConservativeBackfill:
    """Reservations for all; compression after early completions."""

    def __init__(self, engine: Replay) -> None:
        self.engine = engine
        self.reservation = [NEVER] * len(engine.submit)
        self.profile = Profile(0, engine.capacity, [])
        self.stale = True  # the profile must be rebuilt before use
        self.compress_due = False
        self.wake = NEVER  # the latest wake-up asked of the engine

    def on_finish(self, job: int, now: int) -> None:
        e = self.engine
        expected_end = e.start_s[job] + e.req[job]
        if expected_end > now and not self.stale:
            self.profile.add(now, expected_end, e.units[job])
            self.compress_due = True

    def on_reshape(self, now: int) -> None:
        self.stale = True

    def schedule(self, now: int, first_new: int, end_new: int, freed: bool, reshaped: bool) -> None:
        e = self.engine
        queue, order, units, req = e.queue, e.order, e.units, e.req
        if reshaped or self.stale or self._overrun(now):
            self._rebuild(now)
        else:
            self.profile.advance(now)
            if self.compress_due:
                self._compress(now)
        self.compress_due = False
        profile, reservation = self.profile, self.reservation
        for job in range(first_new, end_new):
            start = profile.earliest(units[job], req[job], now)
            if start != NEVER:
                profile.add(start, start + req[job], -units[job])
            reservation[job] = start
            order.insert(queue, job)
        started = False
        next_start = NEVER
        for job in queue:
            start = reservation[job]
            if start > now:
                next_start = min(next_start, start)
            elif units[job] <= e.free:
                e.start(job, now)
                started = True
            else:  # the plan and the machine disagree (an overrun): replan at the next event
                self.stale = True
        if started:
            state = e.state
            queue[:] = [j for j in queue if state[j] != RUNNING]
        # A reservation may fall where no job ends (its slot was freed by compression):
        # make sure a pass runs then.
        if next_start != NEVER and next_start != self.wake:
            self.wake = next_start
            e.wake_at(next_start)

    def _overrun(self, now: int) -> bool:
        """A running job is past its requested end (only when jobs are not killed there)."""
        expected, state = self.engine.expected, self.engine.state
        while expected and state[expected[0][1]] != RUNNING:
            heappop(expected)  # ended early or killed
        return bool(expected) and expected[0][0] < now

    def _compress(self, now: int) -> None:
        e = self.engine
        profile, reservation, units, req = self.profile, self.reservation, e.units, e.req
        e.order.sort(e.queue, now)
        for job in e.queue:
            start = reservation[job]
            if start <= now or start == NEVER:
                continue
            u = units[job]
            if profile.max_free_before(start) < u:
                continue  # nowhere earlier to go
            profile.add(start, start + req[job], u)
            new_start = profile.earliest(u, req[job], now)
            profile.add(new_start, new_start + req[job], -u)
            reservation[job] = new_start

    def _rebuild(self, now: int) -> None:
        e = self.engine
        e.expected[:] = [x for x in e.expected if e.state[x[1]] == RUNNING]
        heapify(e.expected)
        releases = [(max(end, now + 1), e.units[job]) for end, job in e.expected]
        self.profile = profile = Profile(now, e.free, releases)
        e.order.sort(e.queue, now)
        units, req, reservation = e.units, e.req, self.reservation
        for job in e.queue:
            start = profile.earliest(units[job], req[job], now)
            if start != NEVER:
                profile.add(start, start + req[job], -units[job])
            reservation[job] = start
        self.stale = False

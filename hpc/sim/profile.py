"""The availability profile: free units as a step function of future time.

Conservative backfilling keeps one: running jobs and every waiting job's reservation are
subtracted from the machine's capacity, and a new job gets the earliest start at which
enough units stay free for its whole requested time. `times[i]` starts a segment with
`free[i]` units that lasts until `times[i + 1]`; the last segment lasts forever.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from hpc.sim.state import NEVER  # a start that never comes (the job cannot fit the machine)


class Profile:
    """Free units over time, from `times[0]` (now) on."""

    __slots__ = ("free", "times")

    def __init__(self, now: int, free_now: int, releases: list[tuple[int, int]]) -> None:
        """Free units at `now`, then each (time, units) release of a running job, any order."""
        self.times = [now]
        self.free = [free_now]
        for time, units in sorted(releases):
            if time <= self.times[-1]:
                self.free[-1] += units
            else:
                self.times.append(time)
                self.free.append(self.free[-1] + units)

    def advance(self, now: int) -> None:
        """Forget the past: the segment holding `now` becomes the first."""
        times = self.times
        i = bisect_right(times, now) - 1
        if i > 0:
            del times[:i]
            del self.free[:i]
        times[0] = now

    def earliest(self, units: int, duration: int, after: int) -> int:
        """The earliest start >= `after` with `units` free for `duration` seconds."""
        times, free = self.times, self.free
        if free[-1] < units:
            return NEVER
        i = max(bisect_right(times, after) - 1, 0)
        start = max(after, times[0])
        while True:
            # Segments i..j-1 overlap [start, start + duration).
            j = bisect_left(times, start + duration, i + 1)
            if min(free[i:j]) >= units:
                return start
            # Every start up to the last too-full segment would overlap it: jump past it.
            b = j - 1
            while free[b] >= units:
                b -= 1
            i = b + 1
            start = times[i]

    def add(self, start: int, end: int, units: int) -> None:
        """Add `units` (negative to reserve) over [start, end)."""
        if end <= start:
            return
        free = self.free
        i = self._split(start)
        j = self._split(end)
        free[i:j] = [f + units for f in free[i:j]]
        # Keep the profile canonical (no two neighbours equal) so it stays short.
        if j < len(free) and free[j] == free[j - 1]:
            del free[j]
            del self.times[j]
        if i > 0 and free[i] == free[i - 1]:
            del free[i]
            del self.times[i]

    def max_free_before(self, time: int) -> int:
        """The most units free at any moment in [now, time)."""
        k = bisect_right(self.times, time - 1)
        return max(self.free[:k]) if k else self.free[0]

    def _split(self, time: int) -> int:
        """Make `time` a segment boundary; return that segment's index."""
        times = self.times
        i = max(bisect_right(times, time) - 1, 0)
        if times[i] >= time:
            return i
        times.insert(i + 1, time)
        self.free.insert(i + 1, self.free[i])
        return i + 1

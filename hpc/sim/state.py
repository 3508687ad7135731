"""What a replay's scheduling passes share with the engine: job-state codes, the `NEVER`
sentinel, and the view of the engine's state a backfill mode reads and drives.

A leaf of `hpc.sim`: the engine, the backfill modes and the profile import it, never the
other way round, so no constant is copied to dodge an import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from hpc.model import JobState

if TYPE_CHECKING:
    from hpc.sim.priority import Order

# Job state codes in `SimResult.state` (uint8), indexing `STATE_CODES`.
PENDING, RUNNING, COMPLETED, TIMEOUT, NODE_FAIL = range(5)
STATE_CODES: tuple[JobState, ...] = (
    JobState.PENDING,
    JobState.RUNNING,
    JobState.COMPLETED,
    JobState.TIMEOUT,
    JobState.NODE_FAIL,
)
NEVER = 1 << 62  # a time that never comes (seconds; later than any event of a replay)


class Replay(Protocol):
    """The engine as a backfill mode sees it (times in seconds since the epoch of the trace).

    Lists are indexed by job (its row in the `JobTable`); `free` may go below zero while a
    drain waits for running jobs to end.
    """

    queue: list[int]  # waiting jobs, in queue order after `order.sort`
    order: Order
    submit: list[int]
    req: list[int]  # requested time, s (at least 1)
    units: list[int]  # allocation units each job needs
    start_s: list[int]  # -1 until started
    state: bytearray  # codes above
    expected: list[tuple[int, int]]  # heap of (start + requested, job) of started jobs
    capacity: int  # units the machine has now
    free: int  # capacity minus units in use

    def start(self, job: int, now: int) -> None:
        """Start a waiting job now (the caller removes it from the queue)."""

    def wake_at(self, time_s: int) -> None:
        """Run a scheduling pass at `time_s` even if no job event falls then."""

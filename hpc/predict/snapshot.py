"""The simulation-based estimator: plan the queue forward from the moment a job is submitted.

This is what Slurm's backfill pass does: every running job is assumed to end at its
start + duration, every waiting job in priority order (submit order here; the first
`max_queue` of them, like Slurm's `bf_max_job_test`) takes the earliest slot where its units
stay free for its whole duration, and the new job is planned last. Three flavours differ
only in the durations used:

- `REQUESTED`: requested walltimes for everyone (Slurm's own method);
- `PREDICTED`: the runtime model's p50 for everyone (at most the request); a running job
  already past its prediction is assumed to end within a minute;
- `HYBRID`: predicted runtimes, but a running job past its prediction is assumed to run to
  its requested limit (the request is the only bound left).
"""

from __future__ import annotations

from enum import Enum

import numpy as np
import numpy.typing as npt

from hpc.predict.history import History, JobRequest
from hpc.sim.profile import Profile
from hpc.sim.state import NEVER

IntArray = npt.NDArray[np.int64]
OVERRUN_GRACE_S = 60


class Flavour(Enum):
    REQUESTED = "requested"
    PREDICTED = "predicted"
    HYBRID = "hybrid"


def planned_start_s(
    history: History,
    job: JobRequest,
    *,
    flavour: Flavour = Flavour.REQUESTED,
    predicted_run_s: IntArray | None = None,
    own_run_s: float | None = None,
    upper: int | None = None,
    max_queue: int = 500,
) -> int:
    """When `job` would start if the queue at its submit time played out as planned.

    `predicted_run_s` (one per history job) is needed for the predicted and hybrid flavours,
    and `own_run_s` is the job's own predicted runtime there (default: its request);
    `upper` is the number of history rows submitted before `job` (default: by submit time).
    Returns seconds since trace start (`NEVER` if the job cannot fit the machine).
    """
    t = job.submit_s
    jobs = history.jobs
    if upper is None:
        upper = int(np.searchsorted(jobs.submit_s, t, side="right"))
    start, end = history.start_s[:upper], history.end_s[:upper]
    req = np.maximum(jobs.req_time_s[:upper], 1)
    if flavour is Flavour.REQUESTED:
        dur = req
    else:
        if predicted_run_s is None:
            raise ValueError(f"the {flavour.value} flavour needs predicted runtimes")
        dur = np.clip(predicted_run_s[:upper], 1, req)
    running = np.flatnonzero((start < t) & (end > t))
    queued = np.flatnonzero(start >= t)[:max_queue]
    units = history.units
    planned_end = start[running] + dur[running]
    if flavour is Flavour.PREDICTED:
        planned_end = np.maximum(planned_end, t + OVERRUN_GRACE_S)
    elif flavour is Flavour.HYBRID:
        past = planned_end <= t
        planned_end = np.where(past, start[running] + req[running], planned_end)
        planned_end = np.maximum(planned_end, t + OVERRUN_GRACE_S)
    own = job.req_time_s
    if flavour is not Flavour.REQUESTED and own_run_s is not None:
        own = min(int(own_run_s), job.req_time_s)
    return plan_start_s(
        t,
        history.machine.units,
        running=(planned_end, units[running]),
        queue=(dur[queued], units[queued]),
        units=job.units,
        duration_s=own,
    )


def plan_start_s(
    t: int,
    capacity: int,
    *,
    running: tuple[IntArray, IntArray],
    queue: tuple[IntArray, IntArray],
    units: int,
    duration_s: int,
) -> int:
    """The planned start of a job of `units` for `duration_s` submitted at t (seconds since
    trace start): running jobs free (planned end, units) and the queue, (duration, units) in
    priority order, takes the earliest slots first. `NEVER` if it cannot fit the machine."""
    ends, held = running
    free_now = capacity - int(held.sum())
    if not len(queue[0]) and free_now >= units:
        return t  # nothing ahead and room now: the profile only frees units from here on
    profile = _profile(t, free_now, ends, held)
    for dur, need in zip(queue[0].tolist(), queue[1].tolist(), strict=True):
        begin = profile.earliest(need, dur, t)
        if begin < NEVER:
            profile.add(begin, begin + dur, -need)
    return profile.earliest(units, max(duration_s, 1), t)


def _profile(t: int, free_now: int, ends: IntArray, units: IntArray) -> Profile:
    """`Profile(t, free_now, releases)` built with array operations (thousands of releases)."""
    order = np.argsort(ends, kind="stable")
    ends, units = ends[order], units[order]
    past = ends <= t
    free_now += int(units[past].sum())
    ends, units = ends[~past], units[~past]
    profile = Profile(t, free_now, [])
    if len(ends):
        times, first = np.unique(ends, return_index=True)
        free = free_now + np.cumsum(np.add.reduceat(units, first))
        profile.times.extend(times.tolist())
        profile.free.extend(free.tolist())
    return profile

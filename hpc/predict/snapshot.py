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
    busy = int(units[running].sum())
    capacity = history.machine.units
    releases = list(zip(planned_end.tolist(), units[running].tolist(), strict=True))
    profile = Profile(t, capacity - busy, releases)
    for q in queued.tolist():
        need = int(units[q])
        begin = profile.earliest(need, int(dur[q]), t)
        if begin < NEVER:
            profile.add(begin, begin + int(dur[q]), -need)
    own = job.req_time_s
    if flavour is not Flavour.REQUESTED and own_run_s is not None:
        own = min(int(own_run_s), job.req_time_s)
    return profile.earliest(job.units, max(own, 1), t)

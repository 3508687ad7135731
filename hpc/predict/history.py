"""A workload's history: what was asked for and when each job actually started and ended.

Real traces record each job's wait (SWF field 3), so start = submit + wait. Synthetic traces
have none; their history is made by replaying them with a Slurm-like policy
(multifactor priority, EASY backfilling), which stands in for the site's scheduler.
Times are integer seconds since the start of the trace.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpc.model import IntArray, JobTable, Machine
from hpc.predict.errors import HistoryError, UnknownJobError
from hpc.sim import Policy, simulate
from hpc.sim.policy import BackfillMode, QueueOrder
from hpc.workload.loading import LoadedWorkload

MIN_JOBS = 200
GROUND_TRUTH_POLICY = Policy(QueueOrder.MULTIFACTOR, BackfillMode.EASY)


@dataclass(slots=True)
class History:
    """Jobs in submit order with their actual start and end (seconds since the trace start)."""

    jobs: JobTable
    machine: Machine
    start_s: IntArray
    end_s: IntArray
    units: IntArray  # allocation units each job holds (processors or nodes)
    source: str
    epoch_s: int  # Unix time of the trace start (0 when the header does not say)
    simulated: bool  # True: starts come from a replay, not from the trace

    def __len__(self) -> int:
        return len(self.jobs)

    @property
    def wait_s(self) -> IntArray:
        return self.start_s - self.jobs.submit_s

    def index_of(self, job_id: int) -> int:
        """The row of SWF job number `job_id`."""
        hits = np.flatnonzero(self.jobs.job_id == job_id)
        if not len(hits):
            raise UnknownJobError(job_id, self.source)
        return int(hits[0])

    def split(self, train_share: float = 0.7) -> int:
        """Time-ordered split: rows before the returned index train, the rest test. A share
        of 1 trains on everything (a live model: the newest jobs matter most)."""
        if not 0.1 <= train_share <= 1.0:
            raise HistoryError(f"train share must be in [0.1, 1], got {train_share}")
        return int(len(self) * train_share)


@dataclass(frozen=True, slots=True)
class JobRequest:
    """A job as submitted (a real one or a planned one). Times in seconds since trace start."""

    submit_s: int
    procs: int
    units: int
    req_time_s: int
    user: int = -1
    queue: int = -1
    partition: int = -1
    req_mem_kb: int = -1


def history_of(
    loaded: LoadedWorkload, *, replayed: tuple[IntArray, IntArray] | None = None
) -> History:
    """The history of a loaded trace: recorded waits where known, else a Slurm-like replay.

    `replayed`: the (start, end) seconds a replay of these very jobs gave before (stored with
    a trained model, hpc/predict/saved.py), used instead of replaying them again.
    """
    jobs, machine = loaded.jobs, loaded.machine
    if len(jobs) < MIN_JOBS:
        raise HistoryError(
            f"{loaded.trace.source}: {len(jobs)} jobs after cleaning; predictions need at "
            f"least {MIN_JOBS} to train on"
        )
    units = machine.units_for(jobs.procs, jobs.req_mem_kb)
    wait = _recorded_waits(loaded)
    if wait is not None:
        start = jobs.submit_s + wait
        end = start + np.maximum(jobs.run_s, 0)
        simulated = False
    elif replayed is not None:
        (start, end), simulated = replayed, True
    else:
        result = simulate(jobs, machine, GROUND_TRUTH_POLICY)
        start, end, simulated = result.start_s, result.end_s, True
    epoch = loaded.trace.header.unix_start_time or 0
    return History(jobs, machine, start, end, units, loaded.trace.source, epoch, simulated)


def _recorded_waits(loaded: LoadedWorkload) -> IntArray | None:
    """Each kept job's recorded wait, or None when most waits are unknown (-1)."""
    trace = loaded.trace
    numbers = trace.column("job_number").astype(np.int64)
    waits = trace.column("wait_time").astype(np.int64)
    order = np.argsort(numbers, kind="stable")
    pos = np.searchsorted(numbers[order], loaded.jobs.job_id)
    pos = np.minimum(pos, len(order) - 1)
    found = numbers[order][pos] == loaded.jobs.job_id
    wait = np.where(found, waits[order][pos], -1)
    if float(np.mean(wait >= 0)) < 0.9:
        return None
    # The few unknown waits are treated as immediate starts.
    return np.maximum(wait, 0).astype(np.int64)

"""A live job asked about now, put to a predictor trained on the cluster's imported history.

The predictor's features describe the queue at the moment a job is asked about; for a live
job that moment is now, after the history ends, so the history is extended by the live queue
(`live_history`): running jobs end at their planned ends, pending jobs start where the
forward plan puts them (hpc/predict/forward.py). The job is taken as submitted now, so its
wait is counted from now. Users and partitions are numbered as `slurm import` numbered them
(`LiveNames`). Times inside are seconds since the history's start; answers are in seconds
since the Unix epoch.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from hpc.model import IntArray, JobTable
from hpc.predict.alternatives import Alternative, ranked
from hpc.predict.explain import Explanation, explain
from hpc.predict.features import FeatureIndex
from hpc.predict.forward import PlannedStart, UserRatios, duration_s, planned_end_s
from hpc.predict.history import History, JobRequest
from hpc.predict.predictor import JobPrediction, Predictor
from hpc.slurm.accounting import AccountingRecord
from hpc.slurm.state import ClusterState, LiveJob

UNPLANNED_S = 10 * 365 * 86_400  # a pending job the plan cannot place starts "much later"


@dataclass(frozen=True, slots=True)
class LiveNames:
    """The history's numbers for live names: users (by accounting) and partitions (by the
    trace header). A name the history never saw has none (-1)."""

    users: Mapping[str, int]
    partitions: Mapping[str, int]

    def user(self, name: str) -> int:
        return self.users.get(name, -1)

    def partition(self, name: str) -> int:
        return self.partitions.get(name, -1)

    def partition_names(self) -> dict[int, str]:
        return {n: name for name, n in self.partitions.items()}


def live_names(
    history: History, partitions: Mapping[int, str], records: Iterable[AccountingRecord]
) -> LiveNames:
    """Users matched through job ids found both in `records` and in the history."""
    by_job = dict(zip(history.jobs.job_id.tolist(), history.jobs.user.tolist(), strict=True))
    users = {r.user: by_job[r.job_id] for r in records if r.job_id in by_job}
    return LiveNames(users, {name: number for number, name in partitions.items()})


@dataclass(frozen=True, slots=True)
class LiveAdvice:
    """The model's answer for one live job: start band, why, and the other ways to ask."""

    job_id: int
    epoch_s: int  # the history's start: add it to the bands' times
    prediction: JobPrediction
    explanation: Explanation
    alternatives: tuple[Alternative, ...]  # best score first; the job as asked among them

    def start_s(self) -> tuple[float, float, float]:
        """p10, p50, p90 of the start, seconds since the epoch."""
        s = self.prediction.start
        return self.epoch_s + s.p10_s, self.epoch_s + s.p50_s, self.epoch_s + s.p90_s

    def likely_s(self) -> tuple[float, float]:
        """The most likely start window, seconds since the epoch."""
        p = self.prediction
        return self.epoch_s + p.submit_s + p.likely.lo_s, self.epoch_s + p.submit_s + p.likely.hi_s


def live_request(predictor: Predictor, job: LiveJob, names: LiveNames, now_s: int) -> JobRequest:
    """`job` as the predictor sees a request: submitted now, in the history's numbers."""
    history = predictor.history
    procs = max(job.cpus, 1)
    units = int(history.machine.units_for(np.array([procs], dtype=np.int64))[0])
    return JobRequest(
        submit_s=now_s - history.epoch_s,
        procs=procs,
        units=units,
        req_time_s=max(job.time_limit_s or 3600, 1),
        user=names.user(job.user),
        partition=names.partition(job.partition),
    )


@dataclass(frozen=True, slots=True)
class LiveQueue:
    """The live queue asked about at `now_s`: its snapshot, forward plan, hybrid ratios and
    the history's numbers for its names."""

    state: ClusterState
    plan: Mapping[int, PlannedStart]
    ratios: UserRatios
    names: LiveNames
    now_s: int


def live_history(history: History, queue: LiveQueue, *, leave_out: int | None = None) -> History:
    """The history followed by the live queue (all but job `leave_out`).

    Live jobs are submitted no earlier than the history's last submission (the table stays
    in submit order), which only shortens the age of a queue head older than the history.
    """
    state, plan, ratios, names, now_s = (
        queue.state, queue.plan, queue.ratios, queue.names, queue.now_s
    )  # fmt: skip
    epoch, t = history.epoch_s, now_s - history.epoch_s
    floor = int(history.jobs.submit_s[-1]) if len(history) else 0
    rows = []
    for job in state.jobs:
        if job.job_id == leave_out or not (job.running or job.pending):
            continue
        submit = min(max((job.eligible_s or job.submit_s) - epoch, floor), t)
        if job.running:
            start = (job.start_s or now_s) - epoch
            end = planned_end_s(job, ratios, now_s) - epoch
        else:
            planned = plan.get(job.job_id)
            when = planned.start_s if planned is not None else None
            start = t + UNPLANNED_S if when is None else max(when - epoch, t)
            end = start + duration_s(job, ratios)
        rows.append((submit, start, end, job))
    rows.sort(key=lambda r: r[0])
    if not rows:
        return history
    jobs = history.jobs
    procs = np.array([max(j.cpus, 1) for *_, j in rows], dtype=np.int64)

    def joined(old: IntArray, new: Iterable[int]) -> IntArray:
        return np.concatenate([old, np.fromiter(new, dtype=np.int64)])

    table = JobTable(
        job_id=joined(jobs.job_id, (j.job_id for *_, j in rows)),
        submit_s=joined(jobs.submit_s, (r[0] for r in rows)),
        run_s=joined(jobs.run_s, (r[2] - r[1] for r in rows)),
        procs=np.concatenate([jobs.procs, procs]),
        req_time_s=joined(jobs.req_time_s, (j.time_limit_s or 3600 for *_, j in rows)),
        user=joined(jobs.user, (names.user(j.user) for *_, j in rows)),
        group=joined(jobs.group, (-1 for _ in rows)),
        queue=joined(jobs.queue, (-1 for _ in rows)),
        partition=joined(jobs.partition, (names.partition(j.partition) for *_, j in rows)),
        req_mem_kb=joined(jobs.req_mem_kb, (-1 for _ in rows)),
    )
    return History(
        table,
        history.machine,
        joined(history.start_s, (r[1] for r in rows)),
        joined(history.end_s, (r[2] for r in rows)),
        np.concatenate([history.units, history.machine.units_for(procs)]),
        history.source,
        history.epoch_s,
        history.simulated,
    )


def live_view(predictor: Predictor, extended: History) -> Predictor:
    """The predictor reading features from `extended` (its models and calibration kept)."""
    view = copy.copy(predictor)
    view.index = FeatureIndex(extended)
    return view


def advise_live(predictor: Predictor, queue: LiveQueue, job: LiveJob) -> LiveAdvice:
    """Predict, explain and rank alternatives for live `job` of `queue`."""
    extended = live_history(predictor.history, queue, leave_out=job.job_id)
    view = live_view(predictor, extended)
    request = live_request(predictor, job, queue.names, queue.now_s)
    upper = len(extended)
    x = view.index.row(request, upper=upper)
    prediction = view.predict_x(x[None, :], np.array([request.submit_s], dtype=np.int64))[0]
    options = ranked(view, request, upper=upper)
    return LiveAdvice(
        job.job_id, predictor.history.epoch_s, prediction, explain(view, x), tuple(options)
    )


def median_starts(predictor: Predictor, queue: LiveQueue) -> dict[int, float]:
    """The model's median start (seconds since the epoch) of every pending job, from one
    extended history (each job sees itself among the queued: the cheap path for tables)."""
    pending = queue.state.pending
    if not pending:
        return {}
    extended = live_history(predictor.history, queue)
    view = live_view(predictor, extended)
    requests = [live_request(predictor, j, queue.names, queue.now_s) for j in pending]
    x = np.stack([view.index.row(r, upper=len(extended)) for r in requests])
    t = np.array([r.submit_s for r in requests], dtype=np.int64)
    p50 = view.wait_model.predict_s(x)[1]
    return {
        j.job_id: float(predictor.history.epoch_s + t[k] + p50[k]) for k, j in enumerate(pending)
    }

"""What is known about a job at the moment it is submitted, as one row of numbers.

Three groups: the request itself (size, walltime, partition/QOS, time of day and week), the
user's record (how well their past walltime requests matched their runtimes), and the queue
state at that moment, tracked from the history (work queued ahead, requested work left on
running jobs, free capacity, how soon enough units free up if running jobs use their whole
request). Only jobs that had started, ended or been submitted before the moment are used.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from hpc.predict.history import History, JobRequest
from hpc.predict.snapshot import plan_start_s

FloatArray = npt.NDArray[np.float64]
# Bumped whenever a feature is added, removed or computed differently: saved models keyed
# to another version are trained again (hpc/predict/saved.py, db/trained.py).
FEATURE_VERSION = 1
SIM_QUEUE = 100  # queued jobs planned for the sim_wait_h feature (keeps features fast)
RECENT_STARTS = 10  # the last jobs started, whose waits describe the queue right now

# Feature name -> how a sentence names it ("your ... adds about 3 h to the predicted wait").
FEATURES: dict[str, str] = {
    "req_time_h": "{value} walltime request",
    "units": "size of {value} units",
    "units_share": "share of the machine ({value})",
    "req_mem_kb": "memory request",
    "queue": "queue/QOS choice",
    "partition": "partition choice",
    "hour": "submit hour ({value})",
    "weekday": "submit weekday ({value})",
    "user_done": "your job history ({value} finished jobs)",
    "user_accuracy": "your past runtime/request ratio ({value})",
    "user_log_run": "your typical runtime",
    "user_running_units": "your running jobs",
    "user_queued_units": "your other queued jobs",
    "running_jobs": "{value} running jobs",
    "busy_share": "the machine being {value} busy",
    "free_units": "{value} free units",
    "running_left_h": "work left on running jobs ({value})",
    "fit_req_h": "the wait for enough free units if running jobs use their full request ({value})",
    "queued_jobs": "{value} jobs queued ahead",
    "queued_share": "queued size ({value} of the machine)",
    "queued_work_h": "work queued ahead ({value} of machine time)",
    "queued_small_work_h": "smaller jobs queued ahead ({value} of machine time)",
    "head_age_h": "the oldest queued job waiting {value}",
    "recent_wait_h": "recent waits ({value})",
    "sim_wait_h": "the queue plan with requested times (start in {value})",
}
NAMES: tuple[str, ...] = tuple(FEATURES)
COLUMN = {name: i for i, name in enumerate(NAMES)}
HOURS = frozenset(n for n in NAMES if n.endswith("_h"))


def request_of(history: History, row: int) -> JobRequest:
    jobs = history.jobs
    return JobRequest(
        submit_s=int(jobs.submit_s[row]),
        procs=int(jobs.procs[row]),
        units=int(history.units[row]),
        req_time_s=int(jobs.req_time_s[row]),
        user=int(jobs.user[row]),
        queue=int(jobs.queue[row]),
        partition=int(jobs.partition[row]),
        req_mem_kb=int(jobs.req_mem_kb[row]),
    )


class FeatureIndex:
    """The history, pre-sorted so that the state at any moment is a few array lookups."""

    def __init__(self, history: History) -> None:
        self.history = history
        jobs = history.jobs
        self.capacity = float(history.machine.units)
        self.submit = jobs.submit_s
        self.start = history.start_s
        self.end = history.end_s
        self.units = history.units
        self.req = np.maximum(jobs.req_time_s, 1)
        self.user = jobs.user
        # The first job still active at t is the first whose running max of end passes t.
        self.end_prefix_max = np.maximum.accumulate(self.end)
        by_start = np.argsort(self.start, kind="stable")
        self.start_sorted = self.start[by_start]
        waits = (self.start - self.submit)[by_start].astype(np.float64)
        self.wait_cum = np.concatenate(([0.0], np.cumsum(waits)))
        self.users: dict[int, tuple[FloatArray, FloatArray, FloatArray]] = {}
        for user in np.unique(self.user).tolist():
            rows = np.flatnonzero(self.user == user)
            order = rows[np.argsort(self.end[rows], kind="stable")]
            run = np.maximum(jobs.run_s[order], 1).astype(np.float64)
            accuracy = np.minimum(run / self.req[order], 2.0)
            self.users[user] = (
                self.end[order].astype(np.float64),
                np.concatenate(([0.0], np.cumsum(accuracy))),
                np.concatenate(([0.0], np.cumsum(np.log(run)))),
            )

    def rows(self, rows: npt.NDArray[np.int64]) -> FloatArray:
        """Features of history jobs at their own submit times (only earlier jobs are seen).

        One sweep in time order: the jobs still running or queued at each moment are carried
        from one row to the next, so a row costs what is active then, not the whole past.
        """
        out = np.empty((len(rows), len(NAMES)))
        active = np.zeros(0, dtype=np.int64)  # rows before `top` whose end is not yet past
        top = 0
        for k in np.argsort(rows, kind="stable").tolist():
            row = int(rows[k])
            t = int(self.submit[row])
            lo = min(self._first_active(t), row)
            if lo >= top:
                active = np.arange(lo, row, dtype=np.int64)
            elif row > top:
                active = np.concatenate((active, np.arange(top, row, dtype=np.int64)))
            active = active[self.end[active] >= t]
            top = max(top, row)
            out[k] = self._at(request_of(self.history, row), active[active < row])
        return out

    def row(self, job: JobRequest, *, upper: int | None = None) -> FloatArray:
        """Features of `job` at its submit time; `upper`: rows before it in the history."""
        t = job.submit_s
        if upper is None:
            upper = int(np.searchsorted(self.submit, t, side="right"))
        lo = min(self._first_active(t), upper)
        active = np.arange(lo, upper, dtype=np.int64)
        return self._at(job, active[self.end[active] >= t])

    def _first_active(self, t: int) -> int:
        """The first row whose job may not have ended before t (all before it have)."""
        return int(np.searchsorted(self.end_prefix_max, t, side="left"))

    def _at(self, job: JobRequest, active: npt.NDArray[np.int64]) -> FloatArray:
        """Features of `job` given the earlier rows not ended before its submit time."""
        t = job.submit_s
        start, end = self.start[active], self.end[active]
        units, req = self.units[active], self.req[active]
        running = (start < t) & (end > t)
        queued = start >= t
        cap = self.capacity
        run_units = units[running]
        busy = float(run_units.sum())
        free = cap - busy
        run_end = start[running] + req[running]
        left = np.maximum(run_end - t, 0).astype(np.float64)
        q_units, q_req = units[queued], req[queued]
        q_work = q_units * q_req.astype(np.float64)
        small = q_units <= job.units
        mine = self.user[active] == job.user
        f = np.empty(len(NAMES))
        c = COLUMN
        f[c["req_time_h"]] = job.req_time_s / 3600.0
        f[c["units"]] = job.units
        f[c["units_share"]] = job.units / cap
        f[c["req_mem_kb"]] = job.req_mem_kb
        f[c["queue"]] = job.queue
        f[c["partition"]] = job.partition
        wall = self.history.epoch_s + t
        f[c["hour"]] = (wall % 86_400) / 3600.0
        f[c["weekday"]] = (wall // 86_400 + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
        f[c["user_done"]], f[c["user_accuracy"]], f[c["user_log_run"]] = self._user(job.user, t)
        f[c["user_running_units"]] = float(units[running & mine].sum())
        f[c["user_queued_units"]] = float(units[queued & mine].sum())
        f[c["running_jobs"]] = float(running.sum())
        f[c["busy_share"]] = busy / cap
        f[c["free_units"]] = free
        f[c["running_left_h"]] = float(np.dot(run_units, left)) / cap / 3600.0
        f[c["fit_req_h"]] = _fit_s(free, job.units, left, run_units) / 3600.0
        f[c["queued_jobs"]] = float(queued.sum())
        f[c["queued_share"]] = float(q_units.sum()) / cap
        f[c["queued_work_h"]] = float(q_work.sum()) / cap / 3600.0
        f[c["queued_small_work_h"]] = float(q_work[small].sum()) / cap / 3600.0
        q_submit = self.submit[active][queued]
        f[c["head_age_h"]] = (t - float(q_submit.min())) / 3600.0 if len(q_submit) else 0.0
        f[c["recent_wait_h"]] = self._recent_wait_s(t) / 3600.0
        first = np.flatnonzero(queued)[:SIM_QUEUE]  # rows are in submit order: the queue's head
        planned = plan_start_s(
            t,
            int(cap),
            running=(run_end, run_units),
            queue=(req[first], units[first]),
            units=job.units,
            duration_s=job.req_time_s,
        )
        f[c["sim_wait_h"]] = min(planned - t, 10 * 365 * 86_400) / 3600.0
        return f

    def _user(self, user: int, t: int) -> tuple[float, float, float]:
        """Finished jobs of `user` before t: count, mean run/request, mean log runtime."""
        record = self.users.get(user)
        if record is None:
            return 0.0, np.nan, np.nan
        ends, acc_cum, log_cum = record
        k = int(np.searchsorted(ends, t, side="right"))
        if k == 0:
            return 0.0, np.nan, np.nan
        return float(k), acc_cum[k] / k, log_cum[k] / k

    def _recent_wait_s(self, t: int) -> float:
        k = int(np.searchsorted(self.start_sorted, t, side="left"))
        n = min(k, RECENT_STARTS)
        return (self.wait_cum[k] - self.wait_cum[k - n]) / n if n else 0.0


def _fit_s(free: float, need: int, left: FloatArray, units: npt.NDArray[np.int64]) -> float:
    """Seconds until `need` units are free if running jobs end at their requested times."""
    if free >= need or not len(left):
        return 0.0
    order = np.argsort(left, kind="stable")
    freed = free + np.cumsum(units[order])
    k = int(np.searchsorted(freed, need, side="left"))
    return float(left[order][min(k, len(order) - 1)])


def display(name: str, value: float) -> str:
    """A feature value as people read it (hours as `3 h`, shares as `80%`)."""
    if np.isnan(value):
        return "unknown"
    if name in HOURS:
        return duration_text(value * 3600.0)
    if name.endswith("_share") or name == "user_accuracy":
        return f"{value:.0%}"
    if name == "hour":
        return f"{int(value):02d}:00"
    if name == "weekday":
        return ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[int(value) % 7]
    return f"{value:.0f}"


def duration_text(seconds: float) -> str:
    """`45 s`, `12 min`, `3 h`, `2.5 d`."""
    s = abs(seconds)
    if s < 90:
        return f"{s:.0f} s"
    if s < 90 * 60:
        return f"{s / 60:.0f} min"
    if s < 48 * 3600:
        return f"{s / 3600:.1f} h".replace(".0 h", " h")
    return f"{s / 86_400:.1f} d"

"""The queue plan: requested times as Slurm plans, predicted runtimes, and the hybrid."""

from __future__ import annotations

import numpy as np

from hpc.model import JobTable, Machine
from hpc.predict.history import History, JobRequest
from hpc.predict.snapshot import Flavour, planned_start_s


def _history(submit: list[int], start: list[int], run: list[int], req: list[int], procs: list[int]):  # type: ignore[no-untyped-def]
    n = len(submit)
    col = lambda v: np.array(v, dtype=np.int64)  # noqa: E731
    minus = col([-1] * n)
    jobs = JobTable(
        col(list(range(1, n + 1))), col(submit), col(run), col(procs), col(req),
        minus, minus, minus, minus, minus,
    )  # fmt: skip
    return History(
        jobs, Machine.procs_only(10), col(start), col(start) + col(run), col(procs), "t", 0, False
    )


def test_a_free_machine_starts_the_job_at_once() -> None:
    h = _history([0], [0], [50], [100], [4])
    job = JobRequest(submit_s=10, procs=4, units=4, req_time_s=60)
    assert planned_start_s(h, job) == 10


def test_requested_plan_waits_for_the_requested_end_and_predicted_does_not() -> None:
    # One running job holds the whole machine; it asked for 1000 s but will use 200 s.
    h = _history([0], [0], [200], [1000], [10])
    job = JobRequest(submit_s=100, procs=5, units=5, req_time_s=300)
    assert planned_start_s(h, job, flavour=Flavour.REQUESTED) == 1000
    predicted = np.array([200], dtype=np.int64)
    assert planned_start_s(h, job, flavour=Flavour.PREDICTED, predicted_run_s=predicted) == 200


def test_queued_jobs_ahead_are_planned_first() -> None:
    # Running: 10 units until 100 (requested). Queued ahead: 10 units for 500 s.
    h = _history([0, 50], [0, 100], [100, 500], [100, 500], [10, 10])
    job = JobRequest(submit_s=60, procs=2, units=2, req_time_s=50)
    assert planned_start_s(h, job) == 600


def test_hybrid_trusts_the_request_once_a_job_outlives_its_prediction() -> None:
    h = _history([0], [0], [900], [1000], [10])
    job = JobRequest(submit_s=500, procs=5, units=5, req_time_s=300)
    predicted = np.array([200], dtype=np.int64)  # already exceeded at t=500
    assert planned_start_s(h, job, flavour=Flavour.HYBRID, predicted_run_s=predicted) == 1000
    assert planned_start_s(h, job, flavour=Flavour.PREDICTED, predicted_run_s=predicted) == 560

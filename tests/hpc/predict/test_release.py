"""A site's daily release of delayed jobs is found in the training history, used for the
windows of still-queued jobs, and saved with the model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hpc.predict.history import History
from hpc.predict.predictor import Predictor
from hpc.predict.quantile import TreeParams
from hpc.predict.release import DAY_S, ReleaseParams, release_clock_s, until_release_s
from hpc.predict.saved import predictor_bytes, restored

EVENING_S = 16 * 3600


@pytest.fixture(scope="module")
def released(history: History) -> History:
    """The shared history slowed down 8 times (3 days become 24), with every job that asked
    for more than the median walltime started in the next 16:00-16:10 instead (as long jobs
    on KTH's SP2 did)."""
    rng, slow = np.random.default_rng(5), 8
    jobs = dataclasses.replace(
        history.jobs,
        submit_s=history.jobs.submit_s * slow,
        run_s=history.jobs.run_s * slow,
        req_time_s=history.jobs.req_time_s * slow,
    )
    history = dataclasses.replace(history, jobs=jobs, start_s=history.start_s * slow)
    late = jobs.req_time_s > np.median(jobs.req_time_s)
    evening = jobs.submit_s + until_release_s(EVENING_S, history.epoch_s, jobs.submit_s)
    start = np.where(late, evening + rng.integers(0, 600, len(jobs)), history.start_s)
    return dataclasses.replace(history, start_s=start, end_s=start + np.maximum(jobs.run_s, 0))


def test_the_release_clock_is_where_delayed_jobs_start_together(released: History) -> None:
    clock = release_clock_s(released.start_s, released.wait_s, released.epoch_s, ReleaseParams())
    assert clock is not None and EVENING_S - 600 <= clock <= EVENING_S


def test_starts_spread_over_the_day_have_no_release(history: History) -> None:
    rng = np.random.default_rng(1)
    start = rng.integers(0, 30 * DAY_S, 2000)
    assert release_clock_s(start, np.full(2000, 3600), 0, ReleaseParams()) is None


def test_a_burst_on_one_day_is_no_release() -> None:
    rng = np.random.default_rng(2)
    burst = 5 * DAY_S + rng.integers(0, 600, 400)
    start = np.concatenate([rng.integers(0, 30 * DAY_S, 1000), burst])
    wait = np.full(len(start), 3600)
    assert release_clock_s(start, wait, 0, ReleaseParams()) is None
    assert release_clock_s(start, wait, 0, ReleaseParams(min_days=1)) is not None


def test_queued_windows_take_the_release_and_a_saved_model_keeps_it(released: History) -> None:
    predictor = Predictor.train(released, released.split(0.7), TreeParams(rounds=40))
    assert predictor.release is not None
    rows = np.arange(released.split(0.7), len(released), dtype=np.int64)
    rows = rows[released.wait_s[rows] > 60]
    preds = predictor.predict_rows(rows, queued=True)
    until = predictor.release.until_s(released.jobs.submit_s[rows])
    at_release = np.array([p.likely.lo_s for p in preds]) == until
    assert at_release.any()
    back = restored(released, predictor_bytes(predictor))
    assert back.predict_rows(rows, queued=True) == preds
    assert back.release is not None and back.release.weight == predictor.release.weight

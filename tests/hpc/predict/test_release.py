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
    """The shared history, with every job that was still queued after a minute started in
    the next 16:00-16:10 instead (as long jobs on KTH's SP2 did)."""
    jobs, rng = history.jobs, np.random.default_rng(5)
    late = history.wait_s > 60
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

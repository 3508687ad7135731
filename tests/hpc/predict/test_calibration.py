"""Wait bands for still-queued jobs: adaptive conformal calibration over known outcomes."""

from __future__ import annotations

import numpy as np
import pytest

from hpc.predict.calibration import QUEUED_S, CalibrationParams, RollingCalibrator, shifts_at
from hpc.predict.history import History
from hpc.predict.predictor import Predictor


def test_shift_is_the_score_quantile_once_enough_outcomes_are_known() -> None:
    calibrator = RollingCalibrator(CalibrationParams(window=50, min_scores=20, step=0.0))
    for score in range(19):
        calibrator.observe(float(score), None)
    assert calibrator.shift() is None  # too few: the caller keeps its static calibration
    calibrator.observe(19.0, None)
    # Level (1 - 0.2) * (1 + 1/20) = 0.84 of 0..19.
    assert calibrator.shift() == pytest.approx(np.quantile(np.arange(20.0), 0.84))


def test_misses_raise_the_level_and_hits_lower_it() -> None:
    params = CalibrationParams(step=0.05)
    missing, hitting = RollingCalibrator(params), RollingCalibrator(params)
    for _ in range(10):
        missing.observe(1.0, issued=0.5)  # the band issued was too narrow
        hitting.observe(0.1, issued=0.5)
    assert missing.alpha < 0.2 < hitting.alpha


def test_a_question_sees_only_outcomes_known_when_it_is_asked() -> None:
    n = 40
    submit = np.arange(n, dtype=np.int64) * 10
    start = submit + 5
    scores = np.linspace(0.0, 1.0, n)
    params = CalibrationParams(window=40, min_scores=20, step=0.0)
    early, late = shifts_at(np.array([100, 10_000]), submit, start, scores, -7.0, params)
    assert early == -7.0  # ten outcomes known at t=100: the fallback
    assert late == pytest.approx(np.quantile(scores, min(1.0, 0.8 * (1 + 1 / n))))
    # A job that starts later than the question does not move its answer.
    start_late = start.copy()
    start_late[-1] = 20_000
    again = shifts_at(np.array([10_000]), submit, start_late, scores, -7.0, params)[0]
    assert again == pytest.approx(np.quantile(scores[:-1], min(1.0, 0.8 * (1 + 1 / (n - 1)))))


def test_adaptive_level_keeps_coverage_when_the_workload_drifts() -> None:
    # Scores of a fixed band: their spread triples halfway (a busier machine).
    rng = np.random.default_rng(0)
    n = 4000
    scale = np.where(np.arange(n) < n // 2, 1.0, 3.0)
    scores = rng.normal(0.0, 1.0, n) * scale
    submit = np.arange(n, dtype=np.int64) * 100
    start = submit + 50
    shifts = shifts_at(submit, submit, start, scores, 0.0)
    later = slice(n // 2 + 300, n)  # after the window has seen the change
    covered = np.mean(scores[later] <= shifts[later])
    assert 0.75 <= covered <= 0.85
    static = np.quantile(scores[: n // 2], 0.8)  # calibrated once, before the drift
    assert np.mean(scores[later] <= static) < 0.7


def test_queued_bands_keep_the_estimate_and_cover_queued_jobs(
    predictor: Predictor, history: History
) -> None:
    rows = np.arange(history.split(0.7), len(history), dtype=np.int64)
    rows = rows[history.wait_s[rows] > QUEUED_S]
    plain = predictor.predict_rows(rows)
    queued = predictor.predict_rows(rows, queued=True)
    assert [p.wait.p50_s for p in queued] == [p.wait.p50_s for p in plain]
    for p in queued:
        assert 0 <= p.wait.p10_s <= p.wait.p50_s <= p.wait.p90_s
    waits = history.wait_s[rows]
    low = np.array([p.wait.p10_s for p in queued])
    high = np.array([p.wait.p90_s for p in queued])
    inside = np.mean((low <= waits) & (waits <= high))
    assert 0.65 <= inside <= 0.95

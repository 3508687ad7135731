"""Quantile predictions trained on the past and judged on the future."""

from __future__ import annotations

import numpy as np

from hpc.predict.history import History
from hpc.predict.predictor import Predictor


def _test_rows(history: History) -> np.ndarray:
    return np.arange(history.split(0.7), len(history), dtype=np.int64)


def test_trains_only_on_jobs_before_the_split(predictor: Predictor, history: History) -> None:
    assert predictor.train_rows.max() < history.split(0.7)
    assert len(predictor.train_rows) == history.split(0.7)
    assert predictor.wait_model.fitted_rows < history.split(0.7)


def test_quantiles_are_ordered_and_the_band_covers_most_future_waits(
    predictor: Predictor, history: History
) -> None:
    rows = _test_rows(history)
    preds = predictor.predict_rows(rows)
    for p in preds:
        assert 0 <= p.wait.p10_s <= p.wait.p50_s <= p.wait.p90_s
        assert 0 <= p.runtime.p10_s <= p.runtime.p50_s <= p.runtime.p90_s
    waits = history.wait_s[rows]
    inside = np.mean([p.wait.p10_s <= w <= p.wait.p90_s for p, w in zip(preds, waits, strict=True)])
    assert 0.65 <= inside <= 0.97


def test_beats_the_training_mean(predictor: Predictor, history: History) -> None:
    rows = _test_rows(history)
    waits = history.wait_s[rows].astype(float)
    p50 = np.array([p.wait.p50_s for p in predictor.predict_rows(rows)])
    mean = float(np.mean(history.wait_s[: history.split(0.7)]))
    assert np.median(np.abs(p50 - waits)) < np.median(np.abs(mean - waits))
    within = np.mean(np.abs(p50 - waits) <= 600)
    assert within > np.mean(np.abs(mean - waits) <= 600)


def test_a_request_far_from_the_training_data_is_flagged(predictor: Predictor) -> None:
    usual = predictor.recent_x[-5:]
    odd = usual.copy()
    odd[:, :] = 1e9  # every feature beyond anything seen
    assert predictor.distance(odd).min() > predictor.distance(usual).max()


def test_no_rows_get_no_predictions(predictor: Predictor) -> None:
    none = np.zeros(0, dtype=np.int64)
    assert predictor.predict_rows(none) == predictor.predict_rows(none, queued=True) == []

"""The likely windows' stated chances, calibrated on the newest known outcomes."""

from __future__ import annotations

import numpy as np
import pytest

from hpc.predict.chance import ChanceParams, calibrated, chances_at, isotonic
from hpc.predict.history import History
from hpc.predict.predictor import Predictor


def test_isotonic_pools_what_goes_down_and_keeps_what_goes_up() -> None:
    x = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    knots_x, knots_y = isotonic(x, np.array([1.0, 0.0, 0.0, 1.0, 1.0]))
    # 1, 0, 0 pool to 1/3 at their mean x; the two 1s pool too (equal means merge or not:
    # either way the fit is non-decreasing and exact on the means)
    assert knots_y[0] == pytest.approx(1 / 3) and knots_x[0] == pytest.approx(0.2)
    assert np.all(np.diff(knots_y) >= 0) and knots_y[-1] == 1.0
    assert calibrated(np.array([0.0, 0.2, 0.45, 0.9]), (knots_x, knots_y)).tolist() == (
        pytest.approx([1 / 3, 1 / 3, 1.0, 1.0])
    )
    # already non-decreasing: every point is its own knot
    assert isotonic(x, x)[1].tolist() == pytest.approx(x.tolist())


def test_an_overconfident_model_is_told_what_happened() -> None:
    rng = np.random.default_rng(0)
    n = 400
    raw = rng.uniform(0.6, 0.9, n)  # the model says 60-90%
    hit = (rng.uniform(size=n) < 0.25).astype(np.float64)  # a quarter started in the window
    known = np.arange(n, dtype=np.int64)
    out = chances_at(np.array([n, n]), np.array([0.7, 0.85]), known, raw, hit)
    assert out == pytest.approx([0.25, 0.25], abs=0.1)


def test_no_outcome_from_the_future_and_too_few_outcomes_keep_the_raw_chance() -> None:
    raw, hit = np.full(100, 0.8), np.zeros(100)
    known = np.arange(100, 200, dtype=np.int64)  # known from t=100 on
    params = ChanceParams(window=100, min_outcomes=50)
    out = chances_at(np.array([99, 140, 160]), np.full(3, 0.8), known, raw, hit, params)
    assert out[0] == 0.8  # nothing known yet
    assert out[1] == 0.8  # 41 known: fewer than min_outcomes
    assert out[2] == 0.0  # 61 known, all missed


def test_only_the_newest_outcomes_count() -> None:
    n = 300
    raw = np.full(n, 0.5)
    hit = np.concatenate([np.ones(200), np.zeros(100)])  # the workload changed at t=200
    known = np.arange(n, dtype=np.int64)
    params = ChanceParams(window=100, min_outcomes=20)
    out = chances_at(np.array([199, n]), np.array([0.5, 0.5]), known, raw, hit, params)
    assert out.tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="min_outcomes"):
        ChanceParams(window=10, min_outcomes=20)


def test_the_predictor_states_calibrated_chances(predictor: Predictor, history: History) -> None:
    rows = np.arange(history.split(0.7), len(history), dtype=np.int64)
    waits = history.wait_s[rows].astype(np.float64)
    preds = predictor.predict_rows(rows)
    hit = np.mean([p.likely.lo_s <= y <= p.likely.hi_s for p, y in zip(preds, waits, strict=True)])
    said = np.mean([p.likely.chance for p in preds])
    saved, predictor.chance = predictor.chance, None
    try:
        raw = np.mean([p.likely.chance for p in predictor.predict_rows(rows)])
    finally:
        predictor.chance = saved
    assert abs(said - hit) <= abs(raw - hit) + 0.02  # calibration does not make it worse
    assert abs(said - hit) < 0.1
    assert said != raw  # it did something on this history

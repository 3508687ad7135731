"""The likely windows' stated chances, calibrated on the newest known outcomes."""

from __future__ import annotations

import numpy as np
import pytest

from hpc.predict.calibration import QUEUED_S
from hpc.predict.chance import ChanceParams, calibrated, chances_at, isotonic
from hpc.predict.history import History
from hpc.predict.likely import likely_windows
from hpc.predict.predictor import Predictor
from hpc.predict.quantile import GRID


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


def test_ties_are_pooled_whatever_their_order() -> None:
    x = np.array([0.3, 0.3, *[0.95] * 6])
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    for order in (np.arange(8), np.arange(8)[::-1], np.array([2, 0, 7, 1, 3, 6, 4, 5])):
        knots = isotonic(x[order], y[order])
        assert np.all(np.diff(knots[0]) > 0)  # strictly increasing knots for np.interp
        assert calibrated(np.array([0.3, 0.95]), knots).tolist() == pytest.approx([0.5, 0.5])


def test_no_outcome_from_the_future_and_too_few_outcomes_keep_the_raw_chance() -> None:
    raw, hit = np.full(100, 0.8), np.zeros(100)
    known = np.arange(100, 200, dtype=np.int64)  # known from t=100 on
    params = ChanceParams(window=100, min_outcomes=50)
    out = chances_at(np.array([99, 149, 150, 160]), np.full(4, 0.8), known, raw, hit, params)
    assert out[0] == 0.8  # nothing known yet
    assert out[1] == 0.8  # 49 known: fewer than min_outcomes
    assert out[2] == 0.0  # 50 known before t=150 (not the one known at 150 itself), all missed
    assert out[3] == 0.0
    # what becomes known after a question never moves its answer
    later = hit.copy()
    later[known >= 160] = 1.0
    assert chances_at(np.array([160]), np.array([0.8]), known, raw, later, params)[0] == 0.0


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


def test_pruned_outcomes_give_what_all_outcomes_give(
    predictor: Predictor, history: History
) -> None:
    """window_chances reads only the outcomes a fit can use; the answers are the same as
    from every held-out outcome known before the last question."""
    params = ChanceParams(window=40, min_outcomes=20)
    saved, predictor.chance = predictor.chance, params
    try:
        rows = np.arange(history.split(0.7), len(history), dtype=np.int64)
        times = history.jobs.submit_s[rows]
        raw = np.linspace(0.05, 0.95, len(rows))
        got = predictor.window_chances(times, raw, queued=False)
    finally:
        predictor.chance = saved
    first = predictor.wait_model.fitted_rows
    every = np.arange(first, len(history), dtype=np.int64)
    every = every[history.start_s[every] < times.max()]
    assert len(every) > 3 * params.window  # the pruning had something to prune
    _, grid = predictor.wait_model.predict_with_distribution(predictor.features(every))
    windows = likely_windows(GRID, grid)
    hit = [w.lo_s <= y <= w.hi_s for w, y in zip(windows, history.wait_s[every], strict=True)]
    expected = chances_at(
        times,
        raw,
        history.start_s[every],
        np.array([w.chance for w in windows]),
        np.array(hit, dtype=np.float64),
        params,
    )
    assert got == pytest.approx(expected)
    assert not np.allclose(got, raw)


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
    # Jobs still queued after a minute: windows conditioned on that, calibrated on such jobs
    # (few here: calibration starts once 50 such outcomes are known, and must not hurt).
    queued = waits > QUEUED_S
    windows = [p.likely for p in predictor.predict_rows(rows[queued], queued=True)]
    assert all(w.lo_s >= QUEUED_S and 0.0 <= w.chance <= 1.0 for w in windows)
    q_hit = np.mean([w.lo_s <= y <= w.hi_s for w, y in zip(windows, waits[queued], strict=True)])
    predictor.chance = None
    try:
        q_raw = [p.likely.chance for p in predictor.predict_rows(rows[queued], queued=True)]
    finally:
        predictor.chance = saved
    q_said = np.mean([w.chance for w in windows])
    assert abs(q_said - q_hit) <= abs(np.mean(q_raw) - q_hit) + 0.02

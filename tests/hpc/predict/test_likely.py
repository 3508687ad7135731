"""The most likely start window, read from a quantile grid."""

from __future__ import annotations

import numpy as np
import pytest

from hpc.predict.history import History
from hpc.predict.likely import likely_windows
from hpc.predict.predictor import Predictor
from hpc.predict.quantile import GRID

HOUR = 3600.0


def _grid(*values: float) -> np.ndarray:
    row = np.array(values, dtype=np.float64)
    assert len(row) == len(GRID)
    return row[None, :]


def test_a_likely_immediate_start_beats_a_median_hours_away() -> None:
    # 40% start at once, the rest wait 3 to 13 hours: the median (4.5 h) is rarely right.
    (w,) = likely_windows(GRID, _grid(*[0.0] * 8, *(HOUR * k for k in range(3, 14))))
    assert (w.lo_s, w.centre_s, w.hi_s) == (0.0, 600.0, 1200.0)
    assert w.chance == pytest.approx(0.40, abs=0.01)


def test_a_certain_start_at_once_has_all_the_placed_probability() -> None:
    (w,) = likely_windows(GRID, _grid(*[0.0] * 19))
    assert w.lo_s == 0.0 and w.chance == pytest.approx(0.95)


def test_a_concentrated_later_start_is_found_where_it_is() -> None:
    # Quantiles 2 h .. 2 h 30 min, evenly spread: a 20-minute window holds about 2/3 of them.
    (w,) = likely_windows(GRID, _grid(*(2 * HOUR + 100.0 * k for k in range(19))))
    assert w.lo_s >= 2 * HOUR and w.hi_s <= 2 * HOUR + 1900.0
    assert w.chance == pytest.approx(0.60, abs=0.02)


def test_equal_quantiles_away_from_zero_are_a_jump_not_a_slope() -> None:
    # 90% of the probability sits at 5000 s exactly: every window holding 5000 s gets it.
    (w,) = likely_windows(GRID, _grid(*[5000.0] * 19))
    assert w.lo_s <= 5000.0 <= w.hi_s
    assert w.chance == pytest.approx(0.91, abs=0.01)


def test_a_job_known_to_wait_is_not_promised_the_start_it_missed() -> None:
    # 40% start at once, 5% within the first hour, 50% evenly over the second.
    row = _grid(*[0.0] * 8, *np.linspace(HOUR, 2 * HOUR, 11))
    (fresh,) = likely_windows(GRID, row)
    assert fresh.lo_s == 0.0
    (queued,) = likely_windows(GRID, row, after_s=60.0)
    assert queued.lo_s >= HOUR and queued.hi_s <= 2 * HOUR
    # Given it did not start at once: a third of that hour's 0.5, of the remaining 0.6.
    assert queued.chance == pytest.approx((0.5 / 3) / 0.6, abs=0.01)


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="len\\(levels\\)"):
        likely_windows(GRID, np.zeros((2, 3)))


def test_the_window_beats_the_median_and_its_chance_is_honest(
    predictor: Predictor, history: History
) -> None:
    rows = np.arange(history.split(0.7), len(history), dtype=np.int64)
    preds = predictor.predict_rows(rows)
    waits = history.wait_s[rows].astype(np.float64)
    centre = np.array([p.likely.centre_s for p in preds])
    p50 = np.array([p.wait.p50_s for p in preds])
    hits = np.abs(centre - waits) <= 600
    assert hits.mean() >= np.mean(np.abs(p50 - waits) <= 600)
    chance = np.mean([p.likely.chance for p in preds])
    assert abs(chance - hits.mean()) < 0.15  # the stated chance is about the hit rate

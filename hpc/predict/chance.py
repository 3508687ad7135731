"""The chance stated for a most likely start window, calibrated on the newest outcomes.

A window's raw chance is the probability the wait model's quantile grid puts in it. On some
workloads that is too sure of itself (HPC2N: windows stated at 12% held 2% of the starts).
So the chance a user is told is the raw chance mapped through a non-decreasing fit
(isotonic regression, pool-adjacent-violators) of "did the job start in its window" on its
raw chance, over the newest `window` calibration jobs whose start was known before the
question was asked: as the wait bands (calibration.py), it follows the workload's drift and
never uses an outcome from the future. Too few outcomes: the raw chance stands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class ChanceParams:
    window: int = 400  # newest outcomes the fit uses
    min_outcomes: int = 50  # fewer known outcomes: the raw chance stands

    def __post_init__(self) -> None:
        if not 1 <= self.min_outcomes <= self.window:
            raise ValueError("chance calibration: 1 <= min_outcomes <= window is required")


def isotonic(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The non-decreasing least-squares fit of y on x, as knots (mean x, fitted y) per block,
    strictly increasing in x: equal x values are pooled first, so ties never split."""
    values, group = np.unique(np.asarray(x, dtype=np.float64), return_inverse=True)
    weights = np.bincount(group).astype(np.float64)
    hits = np.bincount(group, weights=np.asarray(y, dtype=np.float64))
    sums: list[float] = []  # per block: sum of y, sum of x (weighted), weight
    xsums: list[float] = []
    counts: list[float] = []
    for xv, yv, w in zip(values.tolist(), hits.tolist(), weights.tolist(), strict=True):
        sums.append(yv)
        xsums.append(xv * w)
        counts.append(w)
        while len(sums) > 1 and sums[-2] / counts[-2] > sums[-1] / counts[-1]:
            y_sum, x_sum, count = sums.pop(), xsums.pop(), counts.pop()
            sums[-1] += y_sum
            xsums[-1] += x_sum
            counts[-1] += count
    n = np.array(counts, dtype=np.float64)
    return np.array(xsums) / n, np.array(sums) / n


def calibrated(raw: FloatArray, knots: tuple[FloatArray, FloatArray]) -> FloatArray:
    """Raw chances through a fit (linear between its knots, flat beyond them)."""
    return np.asarray(np.interp(raw, knots[0], knots[1]), dtype=np.float64)


def chances_at(
    times_s: IntArray,
    raw: FloatArray,
    known_s: IntArray,
    outcome_raw: FloatArray,
    outcome_hit: FloatArray,
    params: ChanceParams | None = None,
) -> FloatArray:
    """Calibrated chances for questions asked at `times_s` with raw chances `raw`, from
    calibration jobs whose outcome (`outcome_hit`, 0/1, for raw chance `outcome_raw`) became
    known at `known_s`. A question at t sees the outcomes known before t: not its own job's,
    when that job started the second it was submitted."""
    params = params or ChanceParams()
    out = np.asarray(raw, dtype=np.float64).copy()
    order = np.argsort(known_s, kind="stable")
    known = np.asarray(known_s)[order]
    o_raw, o_hit = np.asarray(outcome_raw)[order], np.asarray(outcome_hit)[order]
    fits: dict[int, tuple[FloatArray, FloatArray]] = {}
    for q in np.argsort(times_s, kind="stable").tolist():
        n = int(np.searchsorted(known, times_s[q], side="left"))
        if n < params.min_outcomes:
            continue
        if n not in fits:
            lo = max(0, n - params.window)
            fits[n] = isotonic(o_raw[lo:n], o_hit[lo:n])
        out[q] = float(calibrated(np.array([raw[q]]), fits[n])[0])
    return out

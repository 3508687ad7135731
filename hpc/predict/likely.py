"""The most likely start: the window of a given width that the predicted wait distribution
puts the most probability in.

A median answers "when, give or take?"; people asking "when will my job start?" also want
"when is it most likely to start?". The two differ whenever the wait distribution has two
humps, which queues make common: a job that starts at once if it fits in a gap and waits
hours for running jobs to end otherwise has a median somewhere in between, where it almost
never starts. The window is read from the wait model's quantile grid (5% ... 95%): the
distribution function is taken as piecewise linear between the grid's quantiles; levels that
share a quantile make a jump there (at 0: a point mass at "starts at once"). Probability
above the top level is not placed, so `chance` is a slight underestimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
HALF_WIDTH_S = 600.0  # a window of +-10 minutes around its centre


@dataclass(frozen=True, slots=True)
class Likely:
    """A wait window [lo_s, hi_s] (seconds after submission) and its predicted chance."""

    centre_s: float
    lo_s: float
    hi_s: float
    chance: float


def likely_windows(
    levels: tuple[float, ...],
    quantiles_s: FloatArray,
    half_s: float = HALF_WIDTH_S,
    *,
    after_s: float = 0.0,
) -> list[Likely]:
    """For each row of `quantiles_s` (rows, levels; sorted, seconds >= 0), the window of
    width 2 * half_s holding the most predicted probability; ties go to the earliest.

    `after_s`: the job is known to have waited that long already, so the distribution is
    conditioned on a wait beyond it and windows start there or later.
    """
    if quantiles_s.ndim != 2 or quantiles_s.shape[1] != len(levels) or half_s <= 0:
        raise ValueError("quantiles_s must be (rows, len(levels)) and half_s > 0")
    fp = np.concatenate(([0.0], np.asarray(levels, dtype=np.float64)))
    out = []
    for q in quantiles_s:
        xp = np.concatenate(([0.0], q))  # knots; equal quantiles make a jump (a point mass)
        # The best window has an edge at a knot, or starts at `after_s`.
        edges = np.concatenate(([after_s], xp - half_s, xp + half_s))
        centres = np.unique(np.maximum(edges, after_s + half_s))
        lower = np.maximum(centres - half_s, after_s)
        below = _cdf(xp, fp, np.array([after_s]), "right")[0] if after_s > 0 else 0.0
        mass = _cdf(xp, fp, centres + half_s, "right") - np.maximum(
            _cdf(xp, fp, lower, "left"), below
        )
        mass /= max(1.0 - below, 1e-12)
        best = int(np.argmax(mass > mass.max() - 1e-12))
        c = float(centres[best])
        out.append(Likely(c, float(lower[best]), c + half_s, float(mass[best])))
    return out


def _cdf(xp: FloatArray, fp: FloatArray, x: FloatArray, side: str) -> FloatArray:
    """The piecewise-linear distribution function through knots (xp, fp), xp non-decreasing
    (a repeated xp is a jump): F(x) for side "right", the limit from below for "left"."""
    i = np.searchsorted(xp, x, side=side)  # type: ignore[call-overload]
    inner = (i > 0) & (i < len(xp))
    a, b = np.clip(i - 1, 0, len(xp) - 1), np.clip(i, 0, len(xp) - 1)
    span = np.where(inner, xp[b] - xp[a], 1.0)  # > 0 inside: xp[a] < x <= xp[b] or <
    t = np.where(inner, (x - xp[a]) / span, 0.0)
    inside = fp[a] + t * (fp[b] - fp[a])
    return np.asarray(np.where(i == 0, 0.0, np.where(i >= len(xp), fp[-1], inside)))

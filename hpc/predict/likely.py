"""The most likely start: the window of a given width that the predicted wait distribution
puts the most probability in.

A median answers "when, give or take?"; people asking "when will my job start?" also want
"when is it most likely to start?". The two differ whenever the wait distribution has two
humps, which queues make common: a job that starts at once if it fits in a gap and waits
hours for running jobs to end otherwise has a median somewhere in between, where it almost
never starts. The window is read from the wait model's quantile grid (5% ... 95%): the
distribution function is taken as piecewise linear between the grid's quantiles, with the
levels whose quantile is 0 as a point mass at "starts at once". Probability above the top
level is not placed, so `chance` is a slight underestimate.
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
    levels: tuple[float, ...], quantiles_s: FloatArray, half_s: float = HALF_WIDTH_S
) -> list[Likely]:
    """For each row of `quantiles_s` (rows, levels; sorted, seconds >= 0), the window of
    width 2 * half_s holding the most predicted probability; ties go to the earliest."""
    if quantiles_s.ndim != 2 or quantiles_s.shape[1] != len(levels) or half_s <= 0:
        raise ValueError("quantiles_s must be (rows, len(levels)) and half_s > 0")
    fp_all = np.asarray(levels, dtype=np.float64)
    out = []
    for q in quantiles_s:
        xp, fp = _cdf_points(q, fp_all)
        # The best window has an edge at a knot of the piecewise-linear CDF (or at 0).
        centres = np.unique(np.maximum(np.concatenate(([0.0], xp - half_s, xp + half_s)), half_s))
        upper = np.interp(centres + half_s, xp, fp, left=0.0, right=fp[-1])
        lower = np.where(centres - half_s <= 0.0, 0.0, np.interp(centres - half_s, xp, fp))
        mass = upper - lower
        best = int(np.argmax(mass > mass.max() - 1e-12))
        c = float(centres[best])
        out.append(Likely(c, max(c - half_s, 0.0), c + half_s, float(mass[best])))
    return out


def _cdf_points(q: FloatArray, levels: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Knots (seconds, probability) of the distribution function; F(0) is the point mass."""
    xp = np.concatenate(([0.0], q))
    fp = np.concatenate(([0.0], levels))
    last = np.concatenate((xp[1:] != xp[:-1], [True]))  # equal quantiles: keep the top level
    return xp[last], fp[last]

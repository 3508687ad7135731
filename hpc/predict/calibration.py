"""Wait bands for jobs already queued: adaptive conformal calibration over the newest outcomes.

People ask "when will my job start?" about a job that is still pending, so its band is
calibrated on jobs like it: those still queued `QUEUED_S` after submission. Workloads drift
(on COARE a band calibrated once, before the test months, covered 46% of them), so each
queued job's band is widened or narrowed by a quantile of the conformity scores of the last
`window` queued jobs whose start was known at its submit time, and that quantile's level is
itself adapted after every outcome seen (adaptive conformal inference, Gibbs & Candès 2021):
the long-run share of missed bands stays near `miss_rate` whatever the drift.

Scores are in log1p seconds: max(p10 - y, y - p90), so a band widened by s covers y iff
score <= s. Times are seconds since the trace start.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
QUEUED_S = 60  # still pending this long after submission: Slurm's first passes are over


@dataclass(frozen=True, slots=True)
class CalibrationParams:
    window: int = 200  # newest outcomes whose scores set the width
    step: float = 0.02  # how fast the level reacts to a miss or a hit
    miss_rate: float = 0.2  # a p10–p90 band should miss 20% of jobs
    min_scores: int = 20  # fewer outcomes than this: keep the static calibration

    def __post_init__(self) -> None:
        if self.window < self.min_scores or self.min_scores < 1:
            raise ValueError("calibration: window >= min_scores >= 1 is required")
        if not 0 < self.miss_rate < 1 or self.step < 0:
            raise ValueError("calibration: miss_rate in (0, 1) and step >= 0 are required")


class RollingCalibrator:
    """The current band shift, from the newest scores and the adapted miss level."""

    def __init__(self, params: CalibrationParams | None = None) -> None:
        self.params = params or CalibrationParams()
        self.scores: deque[float] = deque(maxlen=self.params.window)
        self.alpha = self.params.miss_rate

    def shift(self) -> float | None:
        """Log-space widening for a band issued now (None: too few outcomes yet)."""
        n = len(self.scores)
        if n < self.params.min_scores:
            return None
        level = float(np.clip((1 - self.alpha) * (1 + 1 / n), 0.0, 1.0))
        return float(np.quantile(np.fromiter(self.scores, float, n), level))

    def observe(self, score: float, issued: float | None) -> None:
        """An outcome is known: keep its score; if it had a band (`issued`), adapt the level."""
        self.scores.append(score)
        if issued is not None:
            missed = score > issued
            self.alpha += self.params.step * (self.params.miss_rate - missed)


def shifts_at(
    times_s: IntArray,
    submit_s: IntArray,
    start_s: IntArray,
    scores: FloatArray,
    fallback: float,
    params: CalibrationParams | None = None,
) -> FloatArray:
    """The shift in force at each of `times_s`, replaying the calibration jobs in time order.

    Each calibration job (submit, start, score) gets a band when submitted and is observed
    when it starts; an outcome at time t is known to a question asked at t. `fallback` is
    used while fewer than `min_scores` outcomes are known.
    """
    calibrator = RollingCalibrator(params)
    # Events: (time, kind, index); kind 0 = observe, 1 = a calibration job's band, 2 = asked.
    events = sorted(
        [(int(t), 0, i) for i, t in enumerate(start_s.tolist())]
        + [(int(t), 1, i) for i, t in enumerate(submit_s.tolist())]
        + [(int(t), 2, i) for i, t in enumerate(times_s.tolist())]
    )
    issued: list[float | None] = [None] * len(scores)
    out = np.full(len(times_s), fallback)
    for _, kind, i in events:
        if kind == 0:
            calibrator.observe(float(scores[i]), issued[i])
            continue
        now = calibrator.shift()
        if kind == 1:
            issued[i] = now
        elif now is not None:
            out[i] = now
    return out

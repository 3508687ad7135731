"""A site's daily release time: the clock time at which many delayed jobs start at once.

Some sites hold long jobs back during working hours and start them together when the
evening (non-prime) time begins: on KTH's SP2 a fifth of the jobs that waited over 20
minutes started between 16:00 and 16:20 UTC on weekdays. A wait model over log seconds
cannot place "until 16:00" within minutes, so the release is found in the training history
(the 20-minute clock window holding the most starts of delayed jobs, kept only when it
holds `min_lift` times its even share) and a classifier learns which still-queued jobs
start in the next one. Its probability competes with the wait model's most likely window
(hpc/predict/likely.py). Times are seconds since the trace start; clock times seconds
after midnight of `epoch_s + t` (UTC where the trace header gives its start).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from hpc.predict.calibration import QUEUED_S
from hpc.predict.likely import Likely

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
DAY_S = 86_400
WIDTH_S = 1200  # the release window; the same width as a likely window
DELAYED_S = 1200  # jobs that waited longer than this show where releases happen
# How the classifier's chance may be weighed (`weighed`); 0: the release is never used.
WEIGHTS = (0.0, 0.5, 0.7, 1.0, 1.4, 2.0)


@dataclass(frozen=True, slots=True)
class ReleaseParams:
    min_lift: float = 3.0  # the window must hold this many times its even share of starts
    min_starts: int = 50  # delayed starts in it, at least
    min_days: int = 10  # days with `per_day` of them at least: a daily release, not one burst
    per_day: int = 3
    rounds: int = 60
    leaves: int = 15
    min_leaf: int = 50

    def __post_init__(self) -> None:
        if self.min_lift <= 1 or min(self.min_starts, self.min_days, self.per_day) < 1:
            raise ValueError("release: min_lift > 1 and min_starts, min_days, per_day >= 1")
        if self.rounds < 1:
            raise ValueError("release: rounds >= 1 is required")
        if self.min_leaf < 1:
            raise ValueError("release: min_leaf >= 1 is required")


@dataclass(frozen=True, slots=True)
class Release:
    """The release window [clock_s, clock_s + WIDTH_S) each day, and its classifier.

    `weight`: the release window is chosen where weight x its chance beats the model's
    window's raw chance (the two are estimated apart; `weighed` sets it on held-out jobs).
    """

    clock_s: int
    epoch_s: int
    booster: lgb.Booster
    weight: float = 1.0

    def until_s(self, submit_s: IntArray) -> IntArray:
        """Seconds from each submit time to the start of the next release window."""
        return until_release_s(self.clock_s, self.epoch_s, submit_s)

    def chances(self, x: FloatArray, submit_s: IntArray) -> FloatArray:
        """The probability that each still-queued job starts in its next release window."""
        hours = self.until_s(submit_s)[:, None] / 3600.0
        return np.asarray(self.booster.predict(np.hstack([x, hours])), dtype=np.float64)

    def windows(self, x: FloatArray, submit_s: IntArray, likely: list[Likely]) -> list[Likely]:
        """Each job's most likely window: the model's, or the next release window where that
        is the more probable of the two."""
        if not len(likely):
            return likely
        p, until = self.chances(x, submit_s), self.until_s(submit_s).astype(np.float64)
        return [
            Likely(u + WIDTH_S / 2, u, u + WIDTH_S, float(c)) if self.weight * c > w.chance else w
            for w, c, u in zip(likely, p.tolist(), until.tolist(), strict=True)
        ]

    def weighed(
        self, x: FloatArray, submit_s: IntArray, likely: list[Likely], wait_s: IntArray
    ) -> Release:
        """This release with the weight of WEIGHTS whose windows hold the most of these jobs'
        actual waits (jobs the trees did not learn from; ties go to 1, then the lower, 0
        last): where the release windows do not help there, they are not used."""
        best, hits = self.weight, -1
        for weight in sorted(WEIGHTS, key=lambda w: (abs(np.log(w)) if w else np.inf, w)):
            windows = replace(self, weight=weight).windows(x, submit_s, likely)
            n = sum(w.lo_s <= y <= w.hi_s for w, y in zip(windows, wait_s.tolist(), strict=True))
            if n > hits:
                best, hits = weight, n
        return replace(self, weight=best)

    def to_string(self) -> str:
        return str(self.booster.model_to_string())

    @classmethod
    def from_string(cls, clock_s: int, epoch_s: int, text: str, weight: float) -> Release:
        return cls(clock_s, epoch_s, lgb.Booster(model_str=text), weight)


def until_release_s(clock_s: int, epoch_s: int, submit_s: IntArray) -> IntArray:
    """Seconds from each submit time to the next clock time `clock_s`."""
    clock = (epoch_s + np.asarray(submit_s, dtype=np.int64)) % DAY_S
    return np.asarray((clock_s - clock) % DAY_S, dtype=np.int64)


def release_clock_s(
    start_s: IntArray, wait_s: IntArray, epoch_s: int, params: ReleaseParams
) -> int | None:
    """The clock time starting the 20-minute window that holds the most starts of jobs that
    waited over DELAYED_S (one-minute steps, wrapping at midnight); None when it holds fewer
    than `min_starts` of them, less than `min_lift` times its even share, or `per_day` of
    them on fewer than `min_days` days (a burst after one long job ended is no release)."""
    delayed = np.asarray(start_s)[np.asarray(wait_s) > DELAYED_S]
    if len(delayed) < params.min_starts:
        return None
    per_minute = np.bincount(((epoch_s + delayed) % DAY_S) // 60, minlength=DAY_S // 60)
    width = WIDTH_S // 60
    wrapped = np.concatenate([per_minute, per_minute[: width - 1]])
    sums = np.convolve(wrapped, np.ones(width, dtype=np.int64), "valid")[: DAY_S // 60]
    best = int(np.argmax(sums))
    even = len(delayed) * width / (DAY_S // 60)
    if sums[best] < params.min_starts or sums[best] < params.min_lift * even:
        return None
    at = epoch_s + delayed
    inside = (at % DAY_S - best * 60) % DAY_S < WIDTH_S
    _, per_day = np.unique(at[inside] // DAY_S, return_counts=True)
    if int(np.sum(per_day >= params.per_day)) < params.min_days:
        return None
    return best * 60


def train_release(
    x: FloatArray,
    submit_s: IntArray,
    wait_s: IntArray,
    clock_rows: int,
    epoch_s: int,
    params: ReleaseParams | None = None,
    threads: int = 2,
) -> Release | None:
    """The release of a history, learned from its rows (features `x`, in submit order): its
    clock time from the starts of the first `clock_rows` rows (the trees' own), its
    classifier on those of them still queued after QUEUED_S. None: the site has no release."""
    params = params or ReleaseParams()
    n = int(clock_rows)
    wait = np.asarray(wait_s, dtype=np.int64)
    clock = release_clock_s(np.asarray(submit_s)[:n] + wait[:n], wait[:n], epoch_s, params)
    if clock is None:
        return None
    queued = np.flatnonzero(wait[:n] > QUEUED_S)
    until = until_release_s(clock, epoch_s, np.asarray(submit_s)[queued])
    w = wait[queued]
    label = ((w >= until) & (w < until + WIDTH_S) & (w > DELAYED_S)).astype(np.float64)
    if label.sum() < params.min_starts:
        return None
    config = {
        "objective": "binary",
        "learning_rate": 0.1,
        "num_leaves": params.leaves,
        "min_data_in_leaf": params.min_leaf,
        "num_threads": threads,
        "verbosity": -1,
        "deterministic": True,
        "seed": 0,
        "max_bin": 255,  # the hours until the release need minutes, not half hours
    }
    data = lgb.Dataset(np.hstack([x[queued], until[:, None] / 3600.0]), label)
    return Release(clock, epoch_s, lgb.train(config, data, num_boost_round=params.rounds))

"""The start-time and runtime predictor: features + two quantile models, trained on the past.

`Predictor.train(history, train_rows)` learns from jobs submitted before the split only;
the wait model predicts the queue wait (start = submit + wait) and the runtime model the
actual runtime, each as p10/p50/p90 in seconds; the wait model also learns the quantile grid
that gives each job its most likely start window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from hpc.predict.calibration import QUEUED_S, CalibrationParams, shifts_at
from hpc.predict.chance import ChanceParams, chances_at
from hpc.predict.errors import HistoryError
from hpc.predict.features import NAMES, FeatureIndex, FloatArray
from hpc.predict.history import History, JobRequest
from hpc.predict.likely import Likely, likely_windows
from hpc.predict.quantile import GRID, QuantileModel, TreeParams, seconds
from hpc.predict.release import Release, train_release

TRAIN_STEPS = 4  # what Predictor.train reports: features, wait model, run model, outcomes
NEIGHBOUR_SAMPLE = 2000  # training rows kept to measure how unusual a new request is
RANK_SAMPLE = 8192  # training rows whose sorted columns turn a feature into its rank
RECENT_ROWS = 2000  # newest training rows kept (SHAP plots of typical jobs)


@dataclass(frozen=True, slots=True)
class Band:
    """A predicted quantity in seconds: p10, p50 (the estimate) and p90."""

    p10_s: float
    p50_s: float
    p90_s: float

    def shifted(self, by_s: float) -> Band:
        return Band(self.p10_s + by_s, self.p50_s + by_s, self.p90_s + by_s)


@dataclass(frozen=True, slots=True)
class JobPrediction:
    """Wait and runtime bands for one job; start and finish in seconds since trace start.

    `likely`: the 20-minute wait window the model finds most probable (hpc/predict/likely.py).
    """

    submit_s: int
    wait: Band
    runtime: Band
    likely: Likely

    @property
    def start(self) -> Band:
        return self.wait.shifted(self.submit_s)

    @property
    def finish(self) -> Band:
        """Finish quantiles, taking wait and runtime as comonotone (a conservative band)."""
        w, r = self.wait, self.runtime
        return Band(
            self.submit_s + w.p10_s + r.p10_s,
            self.submit_s + w.p50_s + r.p50_s,
            self.submit_s + w.p90_s + r.p90_s,
        )


def inside_wait_band(
    predictions: list[JobPrediction], waits: npt.NDArray[np.integer] | npt.NDArray[np.floating]
) -> npt.NDArray[np.bool_]:
    """Whether each actual wait (s) lies in its prediction's p10–p90 band (for coverage)."""
    band = np.array([(p.wait.p10_s, p.wait.p90_s) for p in predictions]).reshape(-1, 2)
    return np.asarray((band[:, 0] <= waits) & (waits <= band[:, 1]), dtype=np.bool_)


def _waited_s(queued: bool) -> float:
    """How long a job is known to have waited already: windows start no earlier."""
    return float(QUEUED_S) if queued else 0.0


class Predictor:
    """Trained wait and runtime models over one history.

    Training also scores every held-out row (those after the trees' own rows) once: its
    conformity score and its likely window's raw chance and outcome, which the queued-band
    and chance calibrations replay; so answering a question never computes features of
    other jobs, and a saved predictor (hpc/predict/saved.py) answers without retraining.
    """

    def __init__(self, history: History, params: TreeParams | None = None) -> None:
        self.history = history
        self.index = FeatureIndex(history)
        self.params = params or TreeParams()
        self.wait_model = QuantileModel(self.params, GRID)
        self.run_model = QuantileModel(self.params)
        self.train_rows: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.recent_x: FloatArray = np.zeros((0, len(NAMES)))  # the newest training rows
        self.sorted_cols: FloatArray = np.zeros((0, len(NAMES)))
        self.sample_ranks: FloatArray = np.zeros((0, len(NAMES)))
        self.calibration = CalibrationParams()
        # The likely windows' chances, calibrated on the newest outcomes (None: raw chances).
        self.chance: ChanceParams | None = ChanceParams()
        self.held = HeldOut.empty()
        # The site's daily release of delayed jobs, if it has one (hpc/predict/release.py).
        self.release: Release | None = None

    @classmethod
    def train(
        cls,
        history: History,
        train_rows: int,
        params: TreeParams | None = None,
        on_progress: Callable[[int], None] | None = None,
        *,
        base: tuple[QuantileModel, QuantileModel] | None = None,
    ) -> Predictor:
        """Learn from the first `train_rows` jobs (the past of a time-ordered split).

        `base`: the (wait, run) models of a predictor trained on an older history of the same
        workload: their trees are continued rather than grown anew (`QuantileModel.fit`).
        `on_progress(1)` is called after each of its TRAIN_STEPS steps (a progress bar's hook).
        """
        step_done = on_progress or (lambda n: None)
        if train_rows < 100:
            raise HistoryError(f"{train_rows} training jobs: at least 100 are needed")
        self = cls(history, params)
        self.train_rows = np.arange(train_rows, dtype=np.int64)
        x_all = self.index.rows(np.arange(len(history), dtype=np.int64))
        x = x_all[:train_rows]
        wait = np.maximum(history.wait_s[:train_rows], 0).astype(np.float64)
        run = np.maximum(history.jobs.run_s[:train_rows], 0).astype(np.float64)
        step_done(1)
        base_wait, base_run = (None, None) if base is None else base
        self.wait_model.fit(x, np.log1p(wait), base=base_wait)
        self.release = train_release(
            x,
            history.jobs.submit_s[:train_rows],
            history.wait_s[:train_rows],
            self.wait_model.fitted_rows,
            history.epoch_s,
            threads=self.params.threads,
        )
        step_done(1)
        self.run_model.fit(x, np.log1p(run), base=base_run)
        step_done(1)
        self.recent_x = x[-RECENT_ROWS:].copy()
        ranked = np.nan_to_num(x[:: max(1, train_rows // RANK_SAMPLE)], nan=-1.0)
        self.sorted_cols = np.sort(ranked, axis=0)
        self.sample_ranks = self._ranks(x[:: max(1, train_rows // NEIGHBOUR_SAMPLE)])
        self.held = self._held_out(x_all)
        step_done(1)
        return self

    def _held_out(self, x_all: FloatArray) -> HeldOut:
        """Scores and window outcomes of every row after the trees' own ones."""
        first = self.wait_model.fitted_rows
        wait = self.history.wait_s[first:].astype(np.float64)
        raw = self.wait_model.raw_levels(x_all[first:])
        scores = self.wait_model.scores_of(raw, np.log1p(np.maximum(wait, 0)))
        queued = wait > QUEUED_S
        grid = seconds(np.sort(raw, axis=1))
        chance = np.full((2, len(wait)), np.nan)
        hit = np.full((2, len(wait)), np.nan)
        for flag, rows in ((0, np.arange(len(wait))), (1, np.flatnonzero(queued))):
            windows = likely_windows(GRID, grid[rows], after_s=_waited_s(bool(flag)))
            if flag and self.release is not None:
                at, submit = first + rows, self.history.jobs.submit_s[first + rows]
                own = at < len(self.train_rows)  # held-out training rows set the weight
                self.release = self.release.weighed(
                    x_all[at[own]],
                    submit[own],
                    [w for w, o in zip(windows, own.tolist(), strict=True) if o],
                    self.history.wait_s[at[own]],
                )
                windows = self.release.windows(x_all[at], submit, windows)
            chance[flag, rows] = [w.chance for w in windows]
            lo, hi = np.array([(w.lo_s, w.hi_s) for w in windows]).reshape(-1, 2).T
            hit[flag, rows] = (lo <= wait[rows]) & (wait[rows] <= hi)
        return HeldOut(first, np.where(queued, scores, np.nan), chance, hit)

    def features(self, rows: npt.NDArray[np.int64]) -> FloatArray:
        return self.index.rows(rows)

    def predict_x(
        self,
        x: FloatArray,
        submit_s: npt.NDArray[np.int64],
        *,
        wait_shift: FloatArray | None = None,
    ) -> list[JobPrediction]:
        """Bands for feature rows; `wait_shift` (log space, per row) overrides the wait band's
        static calibration (see `queued_shifts`): the jobs are still queued after QUEUED_S,
        so their most likely window is also read from waits beyond that, or is the site's
        next release window where that is more probable (hpc/predict/release.py)."""
        if not len(x):
            return []
        (w10, w50, w90), grid = self.wait_model.predict_with_distribution(x, wait_shift)
        r10, r50, r90 = self.run_model.predict_s(x)
        queued = wait_shift is not None
        likely = likely_windows(GRID, grid, after_s=_waited_s(queued))
        if queued and self.release is not None:
            likely = self.release.windows(x, submit_s, likely)
        raw = np.array([window.chance for window in likely])
        chances = self.window_chances(submit_s, raw, queued=queued)
        likely = [replace(w, chance=float(c)) for w, c in zip(likely, chances, strict=True)]
        return [
            JobPrediction(
                int(submit_s[k]),
                Band(float(w10[k]), float(w50[k]), float(w90[k])),
                Band(float(r10[k]), float(r50[k]), float(r90[k])),
                likely[k],
            )
            for k in range(len(x))
        ]

    def predict_rows(
        self, rows: npt.NDArray[np.int64], *, queued: bool = False
    ) -> list[JobPrediction]:
        """History jobs at their submit times; `queued`: known to be still pending after
        QUEUED_S, so the wait band is calibrated on such jobs (what a user asking sees)."""
        if not len(rows):
            return []
        submit = self.history.jobs.submit_s[rows]
        shift = self.queued_shifts(submit) if queued else None
        return self.predict_x(self.features(rows), submit, wait_shift=shift)

    def predict_requests(
        self, jobs: list[JobRequest], *, queued: bool = False
    ) -> list[JobPrediction]:
        x = np.stack([self.index.row(job) for job in jobs])
        submit = np.array([j.submit_s for j in jobs], dtype=np.int64)
        shift = self.queued_shifts(submit) if queued else None
        return self.predict_x(x, submit, wait_shift=shift)

    def queued_shifts(self, times_s: npt.NDArray[np.int64]) -> FloatArray:
        """The wait band's shift for a still-queued job asked about at each time (log space).

        Calibration jobs: history rows the trees did not learn from that waited more than
        QUEUED_S, replayed in time order (hpc/predict/calibration.py), so a question at t
        sees only outcomes known at t.
        """
        history = self.history
        first = self.held.first_row
        upto = int(np.searchsorted(history.jobs.submit_s, int(np.max(times_s)), side="right"))
        rows = np.arange(first, max(first, upto), dtype=np.int64)
        rows = rows[history.wait_s[rows] > QUEUED_S]
        return shifts_at(
            times_s,
            history.jobs.submit_s[rows],
            history.start_s[rows],
            self.held.score[rows - first],
            self.wait_model.band_shift,
            self.calibration,
        )

    def window_chances(
        self, times_s: npt.NDArray[np.int64], raw: FloatArray, *, queued: bool
    ) -> FloatArray:
        """The likely windows' raw chances for questions at `times_s`, calibrated on the
        outcomes of held-out jobs known by then (hpc/predict/chance.py); `queued`: windows
        of jobs still pending after QUEUED_S, calibrated on such jobs."""
        if self.chance is None or not len(raw):
            return raw
        rows = self._outcome_rows(times_s, queued)
        if len(rows) < self.chance.min_outcomes:
            return raw
        k, at = int(queued), rows - self.held.first_row
        return chances_at(
            times_s,
            raw,
            self.history.start_s[rows],
            self.held.chance[k, at],
            self.held.hit[k, at],
            self.chance,
        )

    def _outcome_rows(self, times_s: npt.NDArray[np.int64], queued: bool) -> npt.NDArray[np.int64]:
        """Held-out rows whose start is known before the last question; of those known before
        the first, only the newest `window` (the most any question's fit reads)."""
        assert self.chance is not None
        history = self.history
        first = self.held.first_row
        last_t, first_t = int(np.max(times_s)), int(np.min(times_s))
        upto = int(np.searchsorted(history.jobs.submit_s, last_t, side="right"))
        rows = np.arange(first, max(first, upto), dtype=np.int64)
        if queued:
            rows = rows[history.wait_s[rows] > QUEUED_S]
        start = history.start_s[rows]
        rows, start = rows[start < last_t], start[start < last_t]  # known before a question
        early = start < first_t
        if int(early.sum()) > self.chance.window:
            newest = np.argsort(start[early], kind="stable")[-self.chance.window :]
            rows = np.concatenate([rows[early][newest], rows[~early]])
        return np.sort(rows)

    def distance(self, x: FloatArray) -> FloatArray:
        """How unlike the training data each row is: nearest-neighbour distance in rank space.

        Each feature becomes its empirical CDF over the training rows (so units do not
        matter; ranks among up to 8,192 training rows); the distance to the nearest of up to
        2,000 training rows, divided by the
        square root of the feature count, lies in [0, 1]: 0 is a request seen before.
        """
        ranks = self._ranks(x)
        diff = ranks[:, None, :] - self.sample_ranks[None, :, :]
        nearest = np.sqrt(np.min(np.sum(diff * diff, axis=2), axis=1))
        return np.asarray(nearest / np.sqrt(x.shape[1]), dtype=np.float64)

    def _ranks(self, x: FloatArray) -> FloatArray:
        n = max(len(self.sorted_cols), 1)
        out = np.empty_like(x)
        for j in range(x.shape[1]):
            col = np.nan_to_num(x[:, j], nan=-1.0)
            out[:, j] = np.searchsorted(self.sorted_cols[:, j], col, side="right") / n
        return out


@dataclass(frozen=True, slots=True)
class HeldOut:
    """What the calibrations replay, per history row from `first_row` on (index row - first):
    `score`, the raw band's conformity score (log space; NaN unless the job waited over
    QUEUED_S), and for windows read from 0 (index 0) and from QUEUED_S (1, queued jobs
    only) the window's raw chance and whether the job started in it (1.0/0.0; NaN: n/a)."""

    first_row: int
    score: FloatArray
    chance: FloatArray  # (2, rows)
    hit: FloatArray  # (2, rows)

    @classmethod
    def empty(cls) -> HeldOut:
        return cls(0, np.zeros(0), np.zeros((2, 0)), np.zeros((2, 0)))

"""Quantile regression (p10, p50, p90) with gradient-boosted trees, calibrated on recent data.

One LightGBM model per quantile level (the wait model learns the whole grid 5%, 10%, ...,
95%, from which hpc/predict/likely.py reads the most likely start window), trained on the
older part of the training rows; the newest `calibration_share` of them then widens or
narrows the p10–p90 band so that it covers 80% of those recent jobs (conformalized quantile
regression, Romano et al. 2019). Targets are in log space (log1p seconds) so that minutes
and days are learned alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from hpc.predict.errors import HistoryError

FloatArray = npt.NDArray[np.float64]
QUANTILES = (0.1, 0.5, 0.9)
GRID = tuple(round(0.05 * k, 2) for k in range(1, 20))  # 0.05 ... 0.95, QUANTILES among them
_BINNING = {"max_bin": 63, "verbosity": -1}  # the dataset's histogram bins, shared by levels


@dataclass(frozen=True, slots=True)
class TreeParams:
    """Boosting settings; the defaults were chosen by measurement on the shared traces."""

    rounds: int = 80
    learning_rate: float = 0.1
    leaves: int = 15
    min_leaf: int = 20
    calibration_share: float = 0.15
    threads: int = 2
    refresh_rounds: int = 20  # trees added to each model when newer history refreshes it

    def __post_init__(self) -> None:
        if self.rounds < 1 or self.leaves < 2 or self.min_leaf < 1 or self.refresh_rounds < 1:
            raise ValueError(
                "rounds >= 1, refresh_rounds >= 1, leaves >= 2 and min_leaf >= 1 are required"
            )
        if not 0.0 <= self.calibration_share < 0.5:
            raise ValueError("calibration_share must be in [0, 0.5)")


class QuantileModel:
    """p10/p50/p90 of a log1p-seconds target; `contributions` gives exact TreeSHAP of p50.

    `levels`: the quantile levels learned (QUANTILES, or GRID for a whole distribution); they
    must include 0.1, 0.5 and 0.9.
    """

    def __init__(
        self, params: TreeParams | None = None, levels: tuple[float, ...] = QUANTILES
    ) -> None:
        missing = [q for q in QUANTILES if q not in levels]
        if missing or list(levels) != sorted(set(levels)):
            raise ValueError(f"levels must be increasing and include {QUANTILES}: {levels}")
        self.params = params or TreeParams()
        self.levels = levels
        self._band = [levels.index(q) for q in QUANTILES]
        self.boosters: list[lgb.Booster] = []
        self.band_shift = 0.0  # added to p90 and taken from p10 by calibration (log space)
        self.fitted_rows = 0  # the first rows of the training data the trees learned from

    def fit(
        self, x: FloatArray, y: FloatArray, *, base: QuantileModel | None = None
    ) -> QuantileModel:
        """Learn from (x, y); `base`: a model of the same levels trained on older history,
        which each booster continues with `refresh_rounds` more trees (LightGBM init_model)."""
        if len(y) < 50:
            raise HistoryError(f"{len(y)} training jobs: at least 50 are needed")
        if base is not None and base.levels != self.levels:
            raise ValueError(f"a refresh needs the same levels: {base.levels} vs {self.levels}")
        p = self.params
        n_fit = len(y) - int(len(y) * p.calibration_share)
        self.fitted_rows = n_fit
        # One binned dataset for every level: binning is the same, only the loss differs.
        data = lgb.Dataset(x[:n_fit], y[:n_fit], free_raw_data=False, params=_BINNING)
        self.boosters = [
            self._train(data, q, None if base is None else base.boosters[k])
            for k, q in enumerate(self.levels)
        ]
        if n_fit < len(y):
            scores = self.scores(x[n_fit:], y[n_fit:])
            level = min(1.0, 0.8 * (1 + 1 / len(scores)))
            self.band_shift = float(np.quantile(scores, level))
        return self

    def _train(self, data: lgb.Dataset, alpha: float, init: lgb.Booster | None) -> lgb.Booster:
        p = self.params
        config = {
            "objective": "quantile",
            "alpha": alpha,
            "learning_rate": p.learning_rate,
            "num_leaves": p.leaves,
            "min_data_in_leaf": p.min_leaf,
            "num_threads": p.threads,
            "verbosity": -1,
            "deterministic": True,
            "seed": 0,
            **_BINNING,
        }
        rounds = p.rounds if init is None else p.refresh_rounds
        return lgb.train(config, data, num_boost_round=rounds, init_model=init)

    def to_strings(self) -> list[str]:
        """The boosters as LightGBM model text, in level order (see `from_strings`)."""
        return [b.model_to_string() for b in self.boosters]

    @classmethod
    def from_strings(
        cls,
        params: TreeParams,
        levels: tuple[float, ...],
        models: list[str],
        *,
        band_shift: float,
        fitted_rows: int,
    ) -> QuantileModel:
        """A trained model back from `to_strings` and its calibration: nothing is retrained."""
        if len(models) != len(levels):
            raise ValueError(f"{len(models)} boosters for {len(levels)} levels")
        model = cls(params, levels)
        model.boosters = [lgb.Booster(model_str=text) for text in models]
        model.band_shift, model.fitted_rows = band_shift, fitted_rows
        return model

    def _raw(self, x: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        lo, mid, hi = (
            np.asarray(self.boosters[k].predict(x), dtype=np.float64) for k in self._band
        )
        return lo, mid, hi

    def predict_with_distribution(
        self, x: FloatArray, shift: FloatArray | None = None
    ) -> tuple[tuple[FloatArray, FloatArray, FloatArray], FloatArray]:
        """`predict_s`, and every learned level's quantile in seconds, (rows, levels),
        uncalibrated and sorted along each row (separately trained quantiles can cross);
        one pass over the boosters."""
        raw = self.raw_levels(x)
        k10, k50, k90 = self._band
        lo, mid, hi = self._calibrated(raw[:, k10], raw[:, k50], raw[:, k90], shift)
        return (seconds(lo), seconds(mid), seconds(hi)), seconds(np.sort(raw, axis=1))

    def raw_levels(self, x: FloatArray) -> FloatArray:
        """Every level's raw output (log1p seconds), (rows, levels), unsorted."""
        return np.stack([np.asarray(b.predict(x), dtype=np.float64) for b in self.boosters], 1)

    def scores(self, x: FloatArray, y: FloatArray) -> FloatArray:
        """Conformity scores max(p10 - y, y - p90) of the raw band: covered iff <= its shift."""
        lo, _, hi = self._raw(x)
        return np.asarray(np.maximum(lo - y, y - hi), dtype=np.float64)

    def scores_of(self, raw: FloatArray, y: FloatArray) -> FloatArray:
        """`scores` from `raw_levels` output already at hand."""
        lo, hi = raw[:, self._band[0]], raw[:, self._band[2]]
        return np.asarray(np.maximum(lo - y, y - hi), dtype=np.float64)

    def predict_log(
        self, x: FloatArray, shift: FloatArray | None = None
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """p10, p50, p90 in log1p seconds, ordered, calibrated (per-row `shift` if given)."""
        return self._calibrated(*self._raw(x), shift)

    def _calibrated(
        self, lo: FloatArray, mid: FloatArray, hi: FloatArray, shift: FloatArray | None
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        widen = self.band_shift if shift is None else shift
        # p50 stays the model's own output so that its SHAP values add up to it exactly.
        lo = np.minimum(lo - widen, mid)
        hi = np.maximum(hi + widen, mid)
        return lo, mid, hi

    def predict_s(
        self, x: FloatArray, shift: FloatArray | None = None
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """p10, p50, p90 in seconds (>= 0)."""
        lo, mid, hi = self.predict_log(x, shift)
        return seconds(lo), seconds(mid), seconds(hi)

    def contributions(self, x: FloatArray) -> FloatArray:
        """TreeSHAP values of the p50 model: (rows, features + 1), the last column the base."""
        p50 = self.boosters[self._band[1]]
        return np.asarray(p50.predict(x, pred_contrib=True), dtype=np.float64)


def seconds(log1p_s: FloatArray) -> FloatArray:
    """log1p seconds back to seconds (>= 0)."""
    return np.asarray(np.maximum(np.expm1(log1p_s), 0.0), dtype=np.float64)

"""Why a wait is predicted: exact TreeSHAP attributions of the p50 wait model, in words.

Attributions are in log space (the model's target); a feature's effect in seconds is the
predicted wait minus the wait predicted without that feature's attribution, so that "adds
about 3 h" means what it says for this job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpc.predict.features import FEATURES, NAMES, FloatArray, display, duration_text
from hpc.predict.predictor import Predictor


@dataclass(frozen=True, slots=True)
class Attribution:
    feature: str
    value: float  # the feature's value for this job
    shap: float  # contribution to log1p(wait)
    effect_s: float  # predicted wait minus the wait without this contribution


@dataclass(frozen=True, slots=True)
class Explanation:
    """The wait prediction of one job taken apart, largest effects first."""

    base_log: float  # the model's average output (log1p seconds)
    predicted_wait_s: float
    attributions: tuple[Attribution, ...]

    def sentence(self) -> str:
        """One plain-language line about the strongest influence on the wait."""
        top = self.attributions[0]
        what = FEATURES[top.feature].format(value=display(top.feature, top.value))
        verb = "adds" if top.effect_s >= 0 else "takes"
        prep = "to" if top.effect_s >= 0 else "off"
        return (
            f"Predicted wait {duration_text(self.predicted_wait_s)}: your {what} {verb} about "
            f"{duration_text(top.effect_s)} {prep} the predicted wait."
            if top.feature in _OWN
            else f"Predicted wait {duration_text(self.predicted_wait_s)}: {what} "
            f"{verb} about {duration_text(top.effect_s)} {prep} the predicted wait."
        )


_OWN = frozenset({"req_time_h", "units", "units_share", "req_mem_kb", "queue", "partition"})


def explain(predictor: Predictor, x: FloatArray, *, top: int = 8) -> Explanation:
    """Attributions for one feature row `x` (shape (features,))."""
    contrib = predictor.wait_model.contributions(x[None, :])[0]
    base, shap = float(contrib[-1]), contrib[:-1]
    total = base + float(shap.sum())
    wait = float(np.expm1(total))
    order = np.argsort(-np.abs(shap))[:top]
    attributions = tuple(
        Attribution(NAMES[j], float(x[j]), float(shap[j]), wait - float(np.expm1(total - shap[j])))
        for j in order.tolist()
    )
    return Explanation(base, max(wait, 0.0), attributions)


def global_importance(predictor: Predictor, x: FloatArray) -> FloatArray:
    """TreeSHAP values (rows, features) of many rows, for bar and beeswarm plots."""
    return predictor.wait_model.contributions(x)[:, :-1]

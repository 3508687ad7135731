"""Whether start-time predictions can be shown: they come from `hpc.predict` when it exists."""

from __future__ import annotations

import importlib.util

MISSING = (
    "Predictions are not available in this build: the start-time predictor (hpc.predict: "
    "predicted start with its interval, SHAP attributions and ranked alternatives) has not "
    "landed yet. This page will show them once it has."
)


def predict_available() -> bool:
    """True once `hpc.predict.explain` (predicted start, SHAP, alternatives) exists."""
    try:
        return importlib.util.find_spec("hpc.predict.explain") is not None
    except ModuleNotFoundError:
        return False

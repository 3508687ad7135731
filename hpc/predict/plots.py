"""Static SHAP pictures (PNG, matplotlib's Agg backend): one job's waterfall, and the global
bar (mean |SHAP|) and beeswarm (each job's SHAP coloured by the feature's value)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from hpc.predict.explain import Explanation
from hpc.predict.features import NAMES, FloatArray, display


def waterfall_png(explanation: Explanation, path: Path, *, title: str = "") -> Path:
    """One job: from the average prediction to this job's, feature by feature (log wait)."""
    items = list(reversed(explanation.attributions))
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(items) + 2.0))
    final = float(np.log1p(explanation.predicted_wait_s))
    rest = final - explanation.base_log - sum(a.shap for a in items)
    # Bottom bar: every feature outside the top ones; then one bar per top feature, upwards.
    level = explanation.base_log
    bars = [("other features", rest), *((f"{a.feature} = {display(a.feature, a.value)}",
                                         a.shap) for a in items)]  # fmt: skip
    for y, (_, shap) in enumerate(bars):
        ax.barh(y, shap, left=level, color="#d62728" if shap > 0 else "#1f77b4")
        level += shap
    ax.axvline(explanation.base_log, color="grey", linestyle=":", label="average job")
    ax.axvline(final, color="black", linestyle="--", label="this job")
    ax.legend(fontsize=7, loc="lower right")
    labels = [label for label, _ in bars]
    ax.set_yticks(range(len(bars)), labels, fontsize=8)
    ax.set_xlabel("contribution to log(1 + wait seconds)")
    ax.set_title(title or "why this wait", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def bar_png(shap: FloatArray, path: Path, *, top: int = 12) -> Path:
    mean = np.mean(np.abs(shap), axis=0)
    order = np.argsort(mean)[-top:]
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(order) + 1.2))
    ax.barh(range(len(order)), mean[order], color="#1f77b4")
    ax.set_yticks(range(len(order)), [NAMES[j] for j in order], fontsize=8)
    ax.set_xlabel("mean |SHAP| on log(1 + wait seconds)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def beeswarm_png(shap: FloatArray, x: FloatArray, path: Path, *, top: int = 12) -> Path:
    mean = np.mean(np.abs(shap), axis=0)
    order = np.argsort(mean)[-top:]
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(order) + 1.2))
    for y, j in enumerate(order.tolist()):
        col = np.nan_to_num(x[:, j], nan=0.0)
        # Colour by rank, not value, so that a few outliers do not wash out the rest.
        rank = np.argsort(np.argsort(col, kind="stable"), kind="stable") / max(len(col) - 1, 1)
        jitter = rng.uniform(-0.3, 0.3, len(col))
        ax.scatter(shap[:, j], y + jitter, c=rank, cmap="coolwarm", s=3)
    ax.set_yticks(range(len(order)), [NAMES[j] for j in order], fontsize=8)
    ax.set_xlabel("SHAP on log(1 + wait seconds) (colour: feature value rank, low blue, high red)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path

"""Explaining one job's wait with `hpc.predict`: predicted start with its interval, the SHAP
waterfall as a static PNG, one plain sentence, and the ranked alternatives.

A job is picked from the history (its prediction uses only what was known at its submit), or
described as a planned variant of it (other processors or walltime, same moment).
"""

from __future__ import annotations

import importlib.util
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MISSING = (
    "Predictions are not available in this build: the start-time predictor (hpc.predict: "
    "predicted start with its interval, SHAP attributions and ranked alternatives) is missing."
)


def predict_available() -> bool:
    """True when `hpc.predict` (predictor, explanations, alternatives, plots) is installed."""
    try:
        return all(
            importlib.util.find_spec(f"hpc.predict.{m}") is not None
            for m in ("advice", "alternatives", "explain", "plots", "predictor", "history")
        )
    except ModuleNotFoundError:
        return False


@dataclass(frozen=True, slots=True)
class JobExplanation:
    job_id: int
    planned: str  # "as submitted" or the change described
    wait_s: tuple[float, float, float]  # p10, p50, p90
    likely: tuple[float, float, float]  # the most probable 20-minute wait window: lo, hi, chance
    start_h: tuple[float, float, float]  # hours since the trace start
    actual_wait_s: int | None
    sentence: str
    waterfall_png: bytes
    alternatives: list[dict[str, Any]]


if predict_available():
    from hpc.predict.advice import advise
    from hpc.predict.alternatives import Alternative, Change, ranked, what_if
    from hpc.predict.explain import explain
    from hpc.predict.features import request_of
    from hpc.predict.history import history_of
    from hpc.predict.plots import waterfall_png
    from hpc.predict.predictor import Band, Predictor
    from hpc.timetext import span_text
    from hpc.workload.loading import LoadedWorkload

    def train(loaded: LoadedWorkload, train_share: float = 0.7) -> Predictor:
        history = history_of(loaded)
        return Predictor.train(history, history.split(train_share))

    def default_job(predictor: Predictor) -> int:
        """The first job after the training part that waited (the interesting kind)."""
        h = predictor.history
        start = h.split(0.7)
        waited = [r for r in range(start, len(h)) if int(h.wait_s[r]) > 0]
        return int(h.jobs.job_id[waited[0] if waited else start])

    def explain_job(
        predictor: Predictor,
        job_id: int,
        *,
        procs: int | None = None,
        walltime_h: float | None = None,
    ) -> JobExplanation:
        """`job_id` as submitted, or planned with other processors or walltime."""
        advice = advise(predictor, job_id)
        change = Change(procs=procs, req_time_s=None if walltime_h is None
                        else max(60, int(walltime_h * 3600)))  # fmt: skip
        if change == Change():
            prediction, explanation = advice.prediction, advice.explanation
            options, planned = list(advice.alternatives), "as submitted"
            actual = advice.actual_wait_s
        else:
            base = request_of(predictor.history, advice.row)
            _, alt = what_if(predictor, base, change, upper=advice.row)
            x = predictor.index.row(alt.request, upper=advice.row)
            prediction, explanation = alt.prediction, explain(predictor, x)
            options = ranked(predictor, alt.request, upper=advice.row)
            planned, actual = change.describe(), None
        with tempfile.TemporaryDirectory() as tmp:
            png = waterfall_png(explanation, Path(tmp) / "w.png", title=f"job {job_id}: {planned}")
            picture = png.read_bytes()
        origin = int(predictor.history.jobs.submit_s[0])
        w = prediction.likely
        return JobExplanation(job_id, planned, _band(prediction.wait), (w.lo_s, w.hi_s, w.chance),
                              _hours(prediction.start, origin), actual, explanation.sentence(),
                              picture, [_row(a, origin) for a in options])  # fmt: skip

    def _band(b: Band) -> tuple[float, float, float]:
        return (b.p10_s, b.p50_s, b.p90_s)

    def _hours(b: Band, origin: int) -> tuple[float, float, float]:
        return tuple((v - origin) / 3600 for v in _band(b))  # type: ignore[return-value]

    def _row(a: Alternative, origin: int) -> dict[str, Any]:
        w = a.prediction.wait
        return {"change": a.change.describe(), "score": round(a.score, 3),
                "wait": f"{span_text(w.p50_s)} ({span_text(w.p10_s)}–{span_text(w.p90_s)})",
                "finish_h": round((a.finish.p50_s - origin) / 3600, 2),
                "node_hours": round(a.node_hours.p50_s, 2), "kill_risk": a.kill_risk}  # fmt: skip

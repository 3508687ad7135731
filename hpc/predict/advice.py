"""Everything a user gets for one job: prediction, explanation and alternatives, in one call.

This is the unit the "< 1 s after warm-up" target is measured on (bench/predict_eval.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from hpc.predict.alternatives import Alternative, ranked
from hpc.predict.calibration import QUEUED_S
from hpc.predict.explain import Explanation, explain
from hpc.predict.features import request_of
from hpc.predict.predictor import JobPrediction, Predictor


@dataclass(frozen=True, slots=True)
class Advice:
    job_id: int
    row: int
    prediction: JobPrediction
    explanation: Explanation
    alternatives: tuple[Alternative, ...]  # best score first; the job as asked is among them
    actual_wait_s: int | None  # known for a past job
    queued_band: bool = False  # the wait band is calibrated on still-queued jobs

    def as_dict(self) -> dict[str, object]:
        p = self.prediction
        return {
            "job_id": self.job_id,
            "wait_s": [p.wait.p10_s, p.wait.p50_s, p.wait.p90_s],
            "likely_wait_s": [p.likely.lo_s, p.likely.hi_s],
            "likely_chance": p.likely.chance,
            "runtime_s": [p.runtime.p10_s, p.runtime.p50_s, p.runtime.p90_s],
            "actual_wait_s": self.actual_wait_s,
            "sentence": self.explanation.sentence(),
            "attributions": [
                {"feature": a.feature, "value": a.value, "shap": a.shap, "effect_s": a.effect_s}
                for a in self.explanation.attributions
            ],
            "alternatives": [
                {
                    "change": a.change.describe(),
                    "score": a.score,
                    "start_s": [
                        a.prediction.start.p10_s,
                        a.prediction.start.p50_s,
                        a.prediction.start.p90_s,
                    ],
                    "finish_s": [a.finish.p10_s, a.finish.p50_s, a.finish.p90_s],
                    "node_hours": [a.node_hours.p10_s, a.node_hours.p50_s, a.node_hours.p90_s],
                    "distance": a.distance,
                    "kill_risk": a.kill_risk,
                }
                for a in self.alternatives
            ],
        }


def advise(predictor: Predictor, job_id: int, *, queued: bool | None = None) -> Advice:
    """Predict, explain and rank alternatives for history job `job_id` at its submit time.

    `queued`: whether the job is known to be still pending after QUEUED_S (its wait band is
    then calibrated on such jobs); None: as it happened.
    """
    history = predictor.history
    row = history.index_of(job_id)
    request = request_of(history, row)
    x = predictor.index.row(request, upper=row)
    submit = history.jobs.submit_s[row : row + 1]
    if queued is None:
        queued = bool(history.wait_s[row] > QUEUED_S)
    shift = predictor.queued_shifts(submit) if queued else None
    prediction = predictor.predict_x(x[None, :], submit, wait_shift=shift)[0]
    options = ranked(predictor, request, upper=row)
    actual = int(history.wait_s[row])
    return Advice(job_id, row, prediction, explain(predictor, x), tuple(options), actual, queued)

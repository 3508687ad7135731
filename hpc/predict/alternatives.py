"""WANDER-style alternatives: other ways to ask for the same work, predicted and ranked.

Candidates change one thing at a time: half or double the processors (the work is assumed to
scale perfectly, so runtime and walltime scale inversely), a shorter walltime, another
partition, or a later submit. Each gets wait, start, finish and node-hours bands from the
predictor. The trade-off score, higher is better:

    score = benefit - 0.25 * uncertainty - 1.0 * distance - 0.1 * extra_cost - 1.0 * kill_risk

benefit: finish time saved against the job as asked, as a share of its predicted turnaround
(p50); uncertainty: width of the finish band (p90 - p10) in the same units; distance: how
unlike the training data the candidate is (`Predictor.distance`, 0..1); extra_cost: relative
change in node-hours (p50, savings count as 0); kill_risk: 1 when the walltime is below the
predicted p90 runtime (the job may be killed at its limit), else 0.

Three kinds of query: prescriptive ("finish by a deadline": candidates whose p90 finish meets
it, best score first), exploratory ("what if I ask for N processors?": one candidate against
the job as asked) and counterfactual (the same for a past job, next to what actually happened).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

import numpy as np

from hpc.predict.errors import PredictError
from hpc.predict.history import JobRequest
from hpc.predict.predictor import Band, JobPrediction, Predictor

UNCERTAINTY_WEIGHT = 0.25
DISTANCE_WEIGHT = 1.0
COST_WEIGHT = 0.1
KILL_WEIGHT = 1.0


class QueryKind(Enum):
    PRESCRIPTIVE = "prescriptive"
    EXPLORATORY = "exploratory"
    COUNTERFACTUAL = "counterfactual"


@dataclass(frozen=True, slots=True)
class Change:
    """What differs from the job as asked (None: unchanged)."""

    procs: int | None = None
    req_time_s: int | None = None
    partition: int | None = None
    delay_s: int = 0

    def describe(self, partition_names: Mapping[int, str] | None = None) -> str:
        """The change in words; partitions by name where `partition_names` has them."""
        names = partition_names or {}
        parts = []
        if self.procs is not None:
            parts.append(f"{self.procs} processors")
        if self.req_time_s is not None:
            parts.append(f"walltime {self.req_time_s / 3600:.2g} h")
        if self.partition is not None:
            parts.append(f"partition {names.get(self.partition, self.partition)}")
        if self.delay_s:
            parts.append(f"submit {self.delay_s / 3600:.2g} h later")
        return ", ".join(parts) or "as asked"


@dataclass(frozen=True, slots=True)
class Alternative:
    change: Change
    request: JobRequest
    prediction: JobPrediction
    node_hours: Band
    distance: float
    kill_risk: bool
    score: float = 0.0

    @property
    def finish(self) -> Band:
        return self.prediction.finish


def evaluate(
    predictor: Predictor, base: JobRequest, changes: list[Change], *, upper: int | None = None
) -> list[Alternative]:
    """Predict the job as asked (first) and each change; scores are relative to the first."""
    history = predictor.history
    requests = [base] + [_apply(history.machine.units, base, c) for c in changes]
    rows = []
    for req in requests:
        same_time = req.submit_s == base.submit_s and upper is not None
        rows.append(predictor.index.row(req, upper=upper if same_time else None))
    x = np.stack(rows)
    predictions = predictor.predict_x(x, np.array([r.submit_s for r in requests]))
    distance = predictor.distance(x)
    base_run = predictions[0].runtime
    out: list[Alternative] = []
    for k, (req, change) in enumerate(zip(requests, [Change(), *changes], strict=True)):
        scale = base.procs / req.procs
        run = Band(*(min(v * scale, req.req_time_s) for v in _values(base_run)))
        pred = dataclasses.replace(predictions[k], runtime=run)
        nodes = req.units if history.machine.node_exclusive else req.procs
        node_hours = Band(*(nodes * v / 3600 for v in _values(run)))
        kill = req.req_time_s < base_run.p90_s * scale
        out.append(Alternative(change, req, pred, node_hours, float(distance[k]), kill))
    return _scored(out)


def candidates(predictor: Predictor, base: JobRequest) -> list[Change]:
    """The one-step changes worth trying for `base`."""
    machine_units = predictor.history.machine.units
    out = [Change(procs=max(1, base.procs // 2))] if base.procs > 1 else []
    doubled = _apply(machine_units, base, Change(procs=base.procs * 2))
    if doubled.units <= machine_units:
        out.append(Change(procs=base.procs * 2))
    if base.req_time_s >= 120:
        out.append(Change(req_time_s=base.req_time_s // 2))
    partitions = np.unique(predictor.history.jobs.partition[predictor.train_rows]).tolist()
    out += [Change(partition=p) for p in partitions if p >= 0 and p != base.partition]
    out += [Change(delay_s=3600), Change(delay_s=4 * 3600)]
    return out


def prescriptive(
    predictor: Predictor, base: JobRequest, deadline_s: int, *, upper: int | None = None
) -> list[Alternative]:
    """Options (as asked included) whose p90 finish is by `deadline_s`, best first."""
    ranked = evaluate(predictor, base, candidates(predictor, base), upper=upper)
    return sorted((a for a in ranked if a.finish.p90_s <= deadline_s), key=lambda a: -a.score)


def ranked(
    predictor: Predictor, base: JobRequest, *, upper: int | None = None
) -> list[Alternative]:
    """The job as asked and every candidate, best score first."""
    return sorted(
        evaluate(predictor, base, candidates(predictor, base), upper=upper), key=lambda a: -a.score
    )


def what_if(
    predictor: Predictor, base: JobRequest, change: Change, *, upper: int | None = None
) -> tuple[Alternative, Alternative]:
    """Exploratory / counterfactual: (the job as asked, the changed job)."""
    as_asked, changed = evaluate(predictor, base, [change], upper=upper)
    return as_asked, changed


def _apply(machine_units: int, base: JobRequest, change: Change) -> JobRequest:
    req = base
    if change.procs is not None:
        if change.procs < 1:
            raise PredictError(f"processors must be >= 1, got {change.procs}")
        per_unit = base.procs / max(base.units, 1)
        units = max(1, int(np.ceil(change.procs / per_unit)))
        scale = base.procs / change.procs
        req = dataclasses.replace(
            req,
            procs=change.procs,
            units=units,
            req_time_s=max(1, int(base.req_time_s * scale)),
        )
        if units > machine_units:
            raise PredictError(
                f"{change.procs} processors need {units} units; the machine has {machine_units}"
            )
    if change.req_time_s is not None:
        if change.req_time_s < 1:
            raise PredictError(f"walltime must be >= 1 s, got {change.req_time_s}")
        req = dataclasses.replace(req, req_time_s=change.req_time_s)
    if change.partition is not None:
        req = dataclasses.replace(req, partition=change.partition)
    if change.delay_s:
        req = dataclasses.replace(req, submit_s=base.submit_s + change.delay_s)
    return req


def _values(band: Band) -> tuple[float, float, float]:
    return band.p10_s, band.p50_s, band.p90_s


def _scored(items: list[Alternative]) -> list[Alternative]:
    base = items[0]
    turnaround = max(base.finish.p50_s - base.request.submit_s, 60.0)
    base_nh = max(base.node_hours.p50_s, 1e-9)
    out = []
    for a in items:
        benefit = (base.finish.p50_s - a.finish.p50_s) / turnaround
        uncertainty = (a.finish.p90_s - a.finish.p10_s) / turnaround
        extra = max(a.node_hours.p50_s / base_nh - 1.0, 0.0)
        score = (
            benefit
            - UNCERTAINTY_WEIGHT * uncertainty
            - DISTANCE_WEIGHT * a.distance
            - COST_WEIGHT * extra
            - KILL_WEIGHT * a.kill_risk
        )
        out.append(dataclasses.replace(a, score=float(score)))
    return out

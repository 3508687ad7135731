"""Predictions of start time or runtime, with their interval, and the actual value once known:
of trace jobs (`schedsight predict --save`) and of live jobs' starts (`schedsight when`, the
API, `slurm status`), whose outcomes `slurm import` and the live queue fill in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.errors import NotFoundError
from db.models import Prediction
from hpc.predict.accuracy import AccuracyReport, LivePrediction, LiveRecord, accuracy_report


def save_prediction(
    session: Session,
    *,
    kind: str,
    model: str,
    job_ref: str,
    p10_s: float,
    p50_s: float,
    p90_s: float,
    explanation: dict[str, Any] | None = None,
    workload_id: int | None = None,
    cluster_id: int | None = None,
    actual_s: float | None = None,
) -> Prediction:
    if kind not in ("start", "runtime"):
        raise ValueError(f"prediction kind must be 'start' or 'runtime', got {kind!r}")
    if not p10_s <= p50_s <= p90_s:
        raise ValueError(f"quantiles out of order: p10={p10_s}, p50={p50_s}, p90={p90_s}")
    prediction = Prediction(
        kind=kind,
        model=model,
        job_ref=job_ref,
        p10_s=p10_s,
        p50_s=p50_s,
        p90_s=p90_s,
        explanation=explanation or {},
        workload_id=workload_id,
        cluster_id=cluster_id,
        actual_s=actual_s,
    )
    session.add(prediction)
    session.flush()
    return prediction


def record_actual(session: Session, *, prediction_id: int, actual_s: float) -> Prediction:
    prediction = session.get(Prediction, prediction_id)
    if prediction is None:
        raise NotFoundError("prediction", prediction_id)
    prediction.actual_s = actual_s
    return prediction


def predictions_for(session: Session, *, job_ref: str) -> list[Prediction]:
    stmt = select(Prediction).where(Prediction.job_ref == job_ref).order_by(Prediction.id)
    return list(session.scalars(stmt))


# ---------------------------------------------------------------- live jobs' starts
LIVE_KIND = "live-start"


def save_live_predictions(session: Session, predictions: Sequence[LivePrediction]) -> int:
    """Store `predictions`; the number stored."""
    for p in predictions:
        if p.p10_s is not None and p.p90_s is not None and not p.p10_s <= p.p50_s <= p.p90_s:
            raise ValueError(f"job {p.job_id}: quantiles out of order: {p.p10_s}, {p.p50_s}, ...")
        session.add(
            Prediction(
                kind=LIVE_KIND,
                model=p.model,
                job_ref=f"slurm:{p.cluster}:{p.job_id}",
                p10_s=p.p10_s,
                p50_s=p.p50_s,
                p90_s=p.p90_s,
                cluster=p.cluster,
                job_id=p.job_id,
                partition=p.partition,
                asked_by=p.asked_by,
                made_s=p.made_s,
                likely_from_s=p.likely_from_s,
                likely_to_s=p.likely_to_s,
                likely_chance=p.likely_chance,
                plan_start_s=p.plan_s,
                slurm_start_s=p.slurm_s,
                model_id=p.model_id,
            )
        )
    session.flush()
    return len(predictions)


def record_starts(session: Session, *, cluster: str, starts: Mapping[int, int]) -> int:
    """Store each started job's actual start (`starts`: job id to seconds since the epoch)
    beside every prediction of it still without one; the number of predictions updated."""
    waiting = select(Prediction).where(
        Prediction.kind == LIVE_KIND, Prediction.cluster == cluster, Prediction.actual_s.is_(None)
    )
    updated = 0
    for row in session.scalars(waiting):
        start = starts.get(row.job_id or 0)
        if start is not None:
            row.actual_s = float(start)
            updated += 1
    session.flush()
    return updated


def live_records(session: Session, *, cluster: str | None = None) -> list[LiveRecord]:
    """Every stored live prediction (of `cluster`, or of all), oldest first."""
    stmt = select(Prediction).where(Prediction.kind == LIVE_KIND).order_by(Prediction.id)
    if cluster is not None:
        stmt = stmt.where(Prediction.cluster == cluster)
    return [LiveRecord(_live(row), row.actual_s) for row in session.scalars(stmt)]


def live_report(session: Session, *, cluster: str | None = None) -> AccuracyReport:
    """How right the stored live predictions (of `cluster`, or of all) were: what
    `schedsight predict report` prints and the dashboard's Accuracy page shows."""
    return accuracy_report(live_records(session, cluster=cluster))


def live_clusters(session: Session) -> list[str]:
    """The clusters with stored live predictions, by name."""
    stmt = select(Prediction.cluster).where(Prediction.kind == LIVE_KIND).distinct()
    return sorted(c for c in session.scalars(stmt) if c)


def _live(row: Prediction) -> LivePrediction:
    return LivePrediction(
        cluster=row.cluster or "",
        job_id=row.job_id or 0,
        partition=row.partition or "",
        asked_by=row.asked_by or "",
        made_s=row.made_s or 0,
        model=row.model,
        p50_s=row.p50_s,
        p10_s=row.p10_s,
        p90_s=row.p90_s,
        likely_from_s=row.likely_from_s,
        likely_to_s=row.likely_to_s,
        likely_chance=row.likely_chance,
        plan_s=row.plan_start_s,
        slurm_s=row.slurm_start_s,
        model_id=row.model_id,
    )

"""Predictions of start time or runtime, with their interval, and the actual value once known."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.errors import NotFoundError
from db.models import Prediction


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

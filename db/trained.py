"""Trained start-time predictors, stored: trained once per workload version, then loaded.

`trained_predictor` is the one way in for `predict`, `explain`, `alternatives`, the
dashboard and the API. A model's key is what it learned from and how: the workload's digest
(the trace with its recorded waits, the jobs as cleaned, the machine), the feature version,
and the training parameters (trees, calibrations, train share). A matching key loads the
stored model, with its calibrations and, for a trace without waits, its replayed history:
it trains and replays nothing. Otherwise it trains and stores; when an older model of
the same lineage (the same trace file name or workload name, fewer jobs: older history of
it) exists with the same features and parameters, its trees are continued with LightGBM's
`init_model` instead of grown anew, up to `MAX_REFRESHES` times in a row.

Models live in the database as blobs, not as files under the data directory: a deployment
that answers from several hosts (login nodes, the dashboard, the API, sweep tasks on compute
nodes) shares one PostgreSQL but not one disk; a blob commits atomically with its key, so
no reader sees half a model or a row pointing at a missing file; and the database's backups
and permissions cover them. A model is a few MB (compressed LightGBM text), which both
SQLite and PostgreSQL store without fuss; each lineage keeps its newest `KEEP` models.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.models import TrainedModel
from db.session import transaction
from db.store import Store
from db.upsert import insert_if_absent
from hpc.predict.calibration import CalibrationParams
from hpc.predict.chance import ChanceParams
from hpc.predict.features import FEATURE_VERSION
from hpc.predict.history import history_of
from hpc.predict.predictor import Predictor
from hpc.predict.quantile import TreeParams
from hpc.predict.saved import (
    FORMAT,
    history_digest,
    jobs_digest,
    predictor_bytes,
    restored,
    saved_history,
    saved_models,
)
from hpc.workload.loading import LoadedWorkload

MAX_REFRESHES = 4  # continuations in a row before a model is grown from scratch again
KEEP = 3  # newest models kept per lineage


@dataclass(frozen=True, slots=True)
class Training:
    """How a predictor is trained: its trees and the past share of the time-ordered split."""

    tree: TreeParams = field(default_factory=TreeParams)
    train_share: float = 0.7

    def as_dict(self) -> dict[str, Any]:
        """Everything that shapes the model, the calibrations' defaults included."""
        return {
            "tree": asdict(self.tree),
            "train_share": self.train_share,
            "calibration": asdict(CalibrationParams()),
            "chance": asdict(ChanceParams()),
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    """How `trained_predictor` got its model: the stored row, and whether it trained."""

    model_id: int
    trained: bool
    base_id: int | None  # the model whose trees were continued (a refresh)
    train_s: float  # the seconds its training took (then or now)


def model_key(jobs_sha: str, training: Training) -> str:
    """sha256 of the workload's digest, the feature version, the format and the parameters."""
    spec = {
        "jobs": jobs_sha,
        "feature_version": FEATURE_VERSION,
        "format": FORMAT,
        "params": training.as_dict(),
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def trained_predictor(
    store: Store,
    loaded: LoadedWorkload,
    *,
    lineage: str,
    workload_id: int | None = None,
    training: Training | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> Predictor:
    """The predictor for `loaded`: the stored one if its key matches, else trained (from
    an older model of `lineage` where one fits) and stored. `on_progress` is the training's
    step hook (`Predictor.train`); `on_outcome` hears which way it went."""
    training = training or Training()
    key = model_key(jobs_digest(loaded), training)
    with store.sessions() as session:
        row = session.scalars(select(TrainedModel).where(TrainedModel.key == key)).first()
        if row is not None:
            predictor = restored(saved_history(loaded, row.blob), row.blob)
            _tell(on_outcome, Outcome(row.id, False, row.base_id, row.train_s))
            return predictor
        base = _base(session, lineage, training, len(loaded.jobs))
        base_id, refreshes = (None, 0) if base is None else (base.id, base.refreshes + 1)
        base_models = None if base is None else saved_models(base.blob)
    t0 = time.perf_counter()
    history = history_of(loaded)
    predictor = Predictor.train(
        history,
        history.split(training.train_share),
        training.tree,
        on_progress,
        base=base_models,
    )
    took = time.perf_counter() - t0
    values = {
        "key": key,
        "lineage": lineage,
        "workload_id": workload_id,
        "history": history_digest(history),
        "feature_version": FEATURE_VERSION,
        "params": training.as_dict(),
        "job_count": len(history),
        "train_rows": len(predictor.train_rows),
        "base_id": base_id,
        "refreshes": refreshes,
        "train_s": took,
        "blob": predictor_bytes(predictor),
    }
    with transaction(store.sessions) as session:
        new_id = insert_if_absent(
            session,
            TrainedModel.__table__,  # type: ignore[arg-type]
            values,
            conflict=["key"],
        )
        if new_id is None:  # another process stored the same model meanwhile
            new_id = session.scalars(select(TrainedModel.id).where(TrainedModel.key == key)).one()
        _prune(session, lineage)
    _tell(on_outcome, Outcome(new_id, True, base_id, took))
    return predictor


def _base(session: Session, lineage: str, training: Training, jobs: int) -> TrainedModel | None:
    """The newest model of `lineage` that newer history can continue: same features and
    parameters, fewer jobs, and not yet continued `MAX_REFRESHES` times in a row."""
    query = (
        select(TrainedModel)
        .where(
            TrainedModel.lineage == lineage,
            TrainedModel.feature_version == FEATURE_VERSION,
            TrainedModel.job_count < jobs,
        )
        .order_by(TrainedModel.job_count.desc(), TrainedModel.id.desc())
    )
    params = training.as_dict()
    for row in session.scalars(query):
        if row.params == params:
            return row if row.refreshes < MAX_REFRESHES else None
    return None


def _prune(session: Session, lineage: str) -> None:
    """Keep the newest `KEEP` models of a lineage."""
    ids = session.scalars(
        select(TrainedModel.id)
        .where(TrainedModel.lineage == lineage)
        .order_by(TrainedModel.id.desc())
        .offset(KEEP)
    ).all()
    if ids:
        session.execute(delete(TrainedModel).where(TrainedModel.id.in_(ids)))


def _tell(hook: Callable[[Outcome], None] | None, outcome: Outcome) -> None:
    if hook is not None:
        hook(outcome)

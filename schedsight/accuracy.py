"""Live predictions kept for their accuracy: what `when`, the API and `slurm status` predicted
is stored (`db.predictions`), each job's actual start is stored beside it once the queue or
`slurm import` shows it; `schedsight predict report` (schedsight/predict_commands.py) judges
them (`hpc.predict.accuracy`). Wiring only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from hpc.predict.accuracy import LivePrediction

if TYPE_CHECKING:
    from db.store import Store
    from hpc.predict.live_answer import LiveAnswer, TrainedHistory
    from hpc.predict.pending import PendingStart
    from hpc.slurm.state import ClusterState


def answer_prediction(
    answer: LiveAnswer, cluster: str, trained: TrainedHistory, asked_by: str
) -> LivePrediction | None:
    """What `answer` predicted, as stored (None: the model made no prediction)."""
    a = answer.advice
    if a is None:
        return None
    (lo, hi), (p10, p50, p90) = a.likely_s(), a.start_s()
    return LivePrediction(
        cluster=cluster,
        job_id=answer.job.job_id,
        partition=answer.job.partition,
        asked_by=asked_by,
        made_s=answer.now_s,
        model=trained.label[:128],
        p50_s=p50,
        p10_s=p10,
        p90_s=p90,
        likely_from_s=lo,
        likely_to_s=hi,
        likely_chance=a.prediction.likely.chance,
        plan_s=None if answer.plan is None else answer.plan.start_s,
        slurm_s=answer.slurm_start_s,
        model_id=trained.model_id,
    )


def median_predictions(
    state: ClusterState, starts: Mapping[int, PendingStart], now_s: int, trained: TrainedHistory
) -> list[LivePrediction]:
    """The model's medians of a queue table (`slurm status`), as stored."""
    out = []
    for job in state.pending:
        start = starts.get(job.job_id)
        if start is None or start.model_p50_s is None:
            continue
        out.append(
            LivePrediction(
                cluster=state.cluster,
                job_id=job.job_id,
                partition=job.partition,
                asked_by="status",
                made_s=now_s,
                model=trained.label[:128],
                p50_s=start.model_p50_s,
                plan_s=start.plan_s,
                slurm_s=job.start_s,
                model_id=trained.model_id,
            )
        )
    return out


def store_predictions(store: Store, predictions: Sequence[LivePrediction | None]) -> None:
    from db.predictions import save_live_predictions
    from db.session import transaction

    made = [p for p in predictions if p is not None]
    if made:
        with transaction(store.sessions) as session:
            save_live_predictions(session, made)


def started_in(state: ClusterState) -> dict[int, int]:
    """The actual start of every job of the snapshot that has started (running or ended)."""
    return {j.job_id: j.start_s for j in state.jobs if not j.pending and j.start_s}


def record_state_starts(store: Store, state: ClusterState) -> int:
    """Stores the starts of the snapshot's started jobs beside their predictions."""
    return record_starts(store, state.cluster, started_in(state))


def record_starts(store: Store, cluster: str, starts: Mapping[int, int]) -> int:
    """Store `starts` (job id to actual start) beside the predictions of those jobs."""
    from db.predictions import record_starts as record
    from db.session import transaction

    if not starts:
        return 0
    with transaction(store.sessions) as session:
        return record(session, cluster=cluster, starts=starts)

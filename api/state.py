"""What every route of one app shares: the live answers, the store and who may ask."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from api.auth import ApiAuth
from api.metrics import PredictionMetrics
from db.store import Store
from hpc.predict.live_answer import LiveAnswer


class LiveAnswers(Protocol):
    """What answers questions about the live queue (`schedsight.live.LiveSource`)."""

    def answer(self, job_id: int) -> LiveAnswer: ...


@dataclass(frozen=True, slots=True)
class ApiState:
    live: LiveAnswers
    store: Store
    auth: ApiAuth
    metrics: PredictionMetrics

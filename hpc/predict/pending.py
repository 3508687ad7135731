"""Each pending job's expected start, for queue tables: the forward plan's, and the
start-time model's median where a trained model is given (loaded only then: the plan needs no
predict extra). Times are seconds since the epoch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hpc.predict.forward import forward_plan, user_ratios
from hpc.site.model import Site
from hpc.slurm.accounting import AccountingRecord
from hpc.slurm.state import ClusterState

if TYPE_CHECKING:
    from hpc.predict.live_answer import TrainedHistory


@dataclass(frozen=True, slots=True)
class PendingStart:
    """A pending job's expected start in a table: the plan's, and the model's median."""

    plan_s: int | None
    model_p50_s: float | None


def pending_starts(
    state: ClusterState,
    records: Sequence[AccountingRecord],
    now_s: int,
    *,
    site: Site | None = None,
    trained: TrainedHistory | None = None,
) -> dict[int, PendingStart]:
    """Every pending job's expected start, the cheap way (one plan, one model pass)."""
    ratios = user_ratios(records)
    plan = forward_plan(state, ratios, now_s, site)
    medians: dict[int, float] = {}
    if trained is not None:
        from hpc.predict.live import LiveQueue, live_names, median_starts

        p = trained.predictor
        names = live_names(p.history, trained.partitions, records)
        medians = median_starts(p, LiveQueue(state, plan, ratios, names, now_s))
    return {
        j.job_id: PendingStart(
            plan[j.job_id].start_s if j.job_id in plan else None, medians.get(j.job_id)
        )
        for j in state.pending
    }

"""Live start predictions: stored with every estimate, and judged once the job starts."""

from __future__ import annotations

from db.predictions import live_records, record_starts, save_live_predictions
from db.session import transaction
from db.store import Store
from hpc.predict.accuracy import LivePrediction

T0 = 1_765_000_000


def _made(job_id: int, cluster: str = "dev", **kw: float) -> LivePrediction:
    return LivePrediction(
        cluster=cluster, job_id=job_id, partition="batch", asked_by="when", made_s=T0,
        model="workload 1 (dev)", p50_s=T0 + 600, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_a_prediction_comes_back_with_every_estimate(store: Store) -> None:
    full = _made(
        7, p10_s=T0 + 60, p90_s=T0 + 3600, likely_from_s=T0 + 300, likely_to_s=T0 + 900,
        likely_chance=0.6, plan_s=T0 + 500, slurm_s=T0 + 7200,
    )  # fmt: skip
    with transaction(store.sessions) as session:
        save_live_predictions(session, [full, _made(8)])
    with store.sessions() as session:
        back = live_records(session)
    assert [r.prediction for r in back] == [full, _made(8)]
    assert [r.actual_s for r in back] == [None, None]


def test_a_start_is_stored_beside_every_prediction_of_that_job_on_that_cluster(
    store: Store,
) -> None:
    with transaction(store.sessions) as session:
        save_live_predictions(session, [_made(7), _made(7), _made(8), _made(7, cluster="other")])
    with transaction(store.sessions) as session:
        assert record_starts(session, cluster="dev", starts={7: T0 + 700, 99: T0}) == 2
        # A start already stored is kept: a later sighting does not move it.
        assert record_starts(session, cluster="dev", starts={7: T0 + 9999}) == 0
    with store.sessions() as session:
        dev = live_records(session, cluster="dev")
        other = live_records(session, cluster="other")
    assert [(r.prediction.job_id, r.actual_s) for r in dev] == [
        (7, T0 + 700),
        (7, T0 + 700),
        (8, None),
    ]
    assert [r.actual_s for r in other] == [None]

"""Decisions, predictions and clusters: stored as given, with their rules enforced."""

from __future__ import annotations

import pytest

from db.clusters import NodeSpec, get_cluster, save_cluster
from db.decisions import decide, get_decision, list_decisions, record_decision, record_outcome
from db.errors import DbError, NotFoundError
from db.models import DecisionStatus
from db.predictions import predictions_for, record_actual, save_prediction
from db.session import transaction
from schedsight.storage import Store


def _propose(store: Store, verdict: str = "accepted") -> int:
    with transaction(store.sessions) as session:
        return record_decision(
            session,
            question="which pending job next?",
            proposal={"action": "set_priority", "job": 42, "priority": 900},
            rationale="short job, long wait",
            objectives={"mean_wait_s": -300.0, "jain_fairness": 0.01},
            guard_verdict=verdict,
            guard_reason=None if verdict == "accepted" else "job 42 is not pending",
        ).id


def test_a_decision_goes_proposed_approved_applied(store: Store) -> None:
    decision_id = _propose(store)
    with transaction(store.sessions) as session:
        decide(session, decision_id=decision_id, approve=True, by="alice")
        record_outcome(session, decision_id=decision_id, applied=True, outcome={"rc": 0})
    with transaction(store.sessions) as session:
        d = get_decision(session, decision_id=decision_id)
        assert (d.status, d.approved_by, d.outcome) == (DecisionStatus.APPLIED, "alice", {"rc": 0})
        assert d.objectives["mean_wait_s"] == -300.0


def test_a_guard_rejected_proposal_cannot_be_approved(store: Store) -> None:
    decision_id = _propose(store, "rejected")
    with (
        pytest.raises(DbError, match="is rejected, not proposed"),
        transaction(store.sessions) as session,
    ):
        decide(session, decision_id=decision_id, approve=True, by="alice")
    with transaction(store.sessions) as session:
        assert [d.id for d in list_decisions(session, status=DecisionStatus.REJECTED)] == [
            decision_id
        ]


def test_an_unapproved_decision_has_no_outcome(store: Store) -> None:
    decision_id = _propose(store)
    with pytest.raises(DbError, match="approve it first"), transaction(store.sessions) as s:
        record_outcome(s, decision_id=decision_id, applied=True, outcome={})


def test_predictions_keep_their_interval_and_later_the_actual(store: Store) -> None:
    with transaction(store.sessions) as session:
        p = save_prediction(
            session,
            kind="start",
            model="gbm-q",
            job_ref="slurm:123",
            p10_s=60,
            p50_s=600,
            p90_s=3600,
        )
        record_actual(session, prediction_id=p.id, actual_s=540)
    with transaction(store.sessions) as session:
        (back,) = predictions_for(session, job_ref="slurm:123")
        assert (back.p10_s, back.p50_s, back.p90_s, back.actual_s) == (60, 600, 3600, 540)


def test_prediction_quantiles_must_be_ordered(store: Store) -> None:
    with pytest.raises(ValueError, match="out of order"), transaction(store.sessions) as s:
        save_prediction(s, kind="start", model="m", job_ref="j", p10_s=9, p50_s=5, p90_s=10)


def test_a_cluster_is_saved_and_replaced_whole(store: Store) -> None:
    nodes = [NodeSpec(f"n{i}", cores=16, gpus=4, partitions=("gpu",)) for i in range(8)]
    with transaction(store.sessions) as session:
        save_cluster(
            session, name="dev", source="slurm-cli", nodes=nodes, partitions={"gpu": 86400}
        )
    with transaction(store.sessions) as session:
        save_cluster(
            session, name="dev", source="slurm-cli", nodes=nodes[:6], partitions={"gpu": None}
        )
    with transaction(store.sessions) as session:
        cluster = get_cluster(session, name="dev")
        assert len(cluster.nodes) == 6 and cluster.nodes[0].gpus == 4
        assert [(p.name, p.max_time_s) for p in cluster.partitions] == [("gpu", None)]


def test_missing_rows_are_named(store: Store) -> None:
    with (
        pytest.raises(NotFoundError, match="no cluster with id nowhere"),
        transaction(store.sessions) as session,
    ):
        get_cluster(session, name="nowhere")

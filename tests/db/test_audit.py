"""The audit log only grows: no edits or deletes through the repository or the database."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, text, update

from db.audit import append_audit, list_audit
from db.decisions import record_decision
from db.errors import AppendOnlyError
from db.models import AuditEntry
from db.session import transaction
from schedsight.storage import Store


def _append(store: Store, target: str = "job-7") -> int:
    with transaction(store.sessions) as session:
        return append_audit(
            session,
            actor="admin",
            action="hold",
            target=target,
            params={"reason": "maintenance"},
            backend="slurm-cli",
            result="ok",
        ).id


def test_entries_are_appended_and_listed_newest_first(store: Store) -> None:
    first, second = _append(store, "job-1"), _append(store, "job-2")
    with transaction(store.sessions) as session:
        assert [e.id for e in list_audit(session)] == [second, first]
        assert [e.target for e in list_audit(session, target="job-1")] == ["job-1"]


def test_editing_an_entry_through_the_orm_is_refused(store: Store) -> None:
    entry_id = _append(store)
    with pytest.raises(AppendOnlyError), transaction(store.sessions) as session:
        entry = session.get_one(AuditEntry, entry_id)
        entry.result = "error"
        session.flush()
    with transaction(store.sessions) as session:
        assert session.get_one(AuditEntry, entry_id).result == "ok"


def test_deleting_an_entry_through_the_orm_is_refused(store: Store) -> None:
    entry_id = _append(store)
    with pytest.raises(AppendOnlyError), transaction(store.sessions) as session:
        session.delete(session.get_one(AuditEntry, entry_id))
        session.flush()


@pytest.mark.parametrize(
    "statement",
    [
        update(AuditEntry).values(actor="mallory"),
        delete(AuditEntry),
    ],
)
def test_the_database_itself_refuses_changes(store: Store, statement: object) -> None:
    _append(store)
    with (
        pytest.raises(AppendOnlyError, match="append-only"),
        transaction(store.sessions) as session,
    ):
        session.execute(statement)  # type: ignore[call-overload]
    with transaction(store.sessions) as session:
        assert [e.actor for e in list_audit(session)] == ["admin"]


def test_raw_sql_cannot_change_it_either(store: Store) -> None:
    _append(store)
    with pytest.raises(AppendOnlyError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET detail = 'x'"))


def test_an_entry_can_name_the_decision_it_carried_out(store: Store) -> None:
    with transaction(store.sessions) as session:
        decision = record_decision(
            session,
            question="hold job 7?",
            proposal={"action": "hold", "job": 7},
            rationale="frees the GPU partition",
            objectives={"mean_wait_s": -120.0},
            guard_verdict="accepted",
        )
        entry = append_audit(
            session,
            actor="admin",
            action="hold",
            target="job-7",
            params={},
            backend="slurm-cli",
            result="ok",
            decision_id=decision.id,
        )
        assert entry.decision_id == decision.id


def test_result_must_be_ok_or_error(store: Store) -> None:
    with pytest.raises(ValueError, match="'ok' or 'error'"), transaction(store.sessions) as s:
        append_audit(
            s, actor="a", action="hold", target="t", params={}, backend="b", result="maybe"
        )

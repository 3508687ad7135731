"""The audit log of every action sent to Slurm: append and read, nothing else.

The repository offers no way to change or delete an entry; a flush that tries anyway fails
with AppendOnlyError, and the database itself refuses it too (triggers from the initial
migration), so the log stays a faithful record.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, UOWTransaction

from db.errors import AppendOnlyError
from db.models import AuditEntry


def append_audit(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str,
    params: dict[str, Any],
    backend: str,
    result: str,
    detail: str | None = None,
    decision_id: int | None = None,
) -> AuditEntry:
    """Record one action (`result` is "ok" or "error"; `detail` says what happened)."""
    if result not in ("ok", "error"):
        raise ValueError(f"audit result must be 'ok' or 'error', got {result!r}")
    entry = AuditEntry(
        actor=actor,
        action=action,
        target=target,
        params=params,
        backend=backend,
        result=result,
        detail=detail,
        decision_id=decision_id,
    )
    session.add(entry)
    session.flush()
    return entry


def list_audit(
    session: Session, *, limit: int = 100, target: str | None = None
) -> list[AuditEntry]:
    """Newest first."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if target is not None:
        stmt = stmt.where(AuditEntry.target == target)
    return list(session.scalars(stmt))


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, _ctx: UOWTransaction, _instances: object) -> None:
    changed = [o for o in (*session.dirty, *session.deleted) if isinstance(o, AuditEntry)]
    if any(o in session.deleted or session.is_modified(o) for o in changed):
        raise AppendOnlyError("the audit log is append-only: entries cannot be changed or deleted")

"""The audit log of every action sent to Slurm: append and read, nothing else.

The repository offers no way to change or delete an entry; a flush that tries anyway fails
with AppendOnlyError, and the database itself refuses it too (triggers from the
migrations, REPLACE INTO included), so the log stays a faithful record.

On PostgreSQL a table's owner can disable its triggers, so the application should not
connect as the role that ran the migrations: `db.roles.grant_app_role` (the command
`schedsight db grant-app-role ROLE`) gives a separate role only SELECT and INSERT here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, UOWTransaction, sessionmaker

from db.errors import AppendOnlyError, InvalidValueError
from db.models import AuditEntry
from db.session import transaction

# "intent": about to be sent; "ok"/"error": its outcome; "refused": never sent (outside remit).
RESULTS = ("ok", "error", "intent", "refused")


def check_length(field: str, value: str) -> str:
    """`value` if the audit log's `field` column can hold it; InvalidValueError otherwise,
    before PostgreSQL would refuse it (SQLite would store it whole)."""
    limit = getattr(AuditEntry.__table__.c[field].type, "length", None)
    if limit is not None and len(value) > limit:
        raise InvalidValueError(
            f"the audit log's {field} is at most {limit} characters, got {len(value)}: "
            f"{value[:24]!r}...; give a shorter one"
        )
    return value


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
    """Record one action (`result` is one of RESULTS; `detail` says what happened)."""
    if result not in RESULTS:
        raise ValueError(
            f"audit result must be 'ok' or 'error' (or 'intent', 'refused'), got {result!r}"
        )
    fields = {"actor": actor, "action": action, "target": target, "backend": backend}
    for field, value in fields.items():
        check_length(field, value)
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


class AuditTrail:
    """The audit log as `hpc.slurm.actions.AuditSink`: every record is committed at once, so
    an intent is durable before its action is sent, and its outcome is a second entry."""

    def __init__(
        self, sessions: sessionmaker[Session], *, actor: str, decision_id: int | None = None
    ) -> None:
        # Checked here too, so that a command refuses a bad actor before it sends anything.
        self.sessions, self.actor = sessions, check_length("actor", actor)
        self.decision_id = decision_id

    def _append(self, **fields: Any) -> int:
        with transaction(self.sessions) as session:
            entry = append_audit(session, actor=self.actor, decision_id=self.decision_id, **fields)
            return entry.id

    def intent(self, *, action: str, target: str, params: dict[str, Any], backend: str) -> int:
        return self._append(
            action=action,
            target=target,
            params=params,
            backend=backend,
            result="intent",
            detail="about to send",
        )

    def outcome(self, intent_id: int, *, ok: bool, detail: str) -> None:
        with transaction(self.sessions) as session:
            first = session.get_one(AuditEntry, intent_id)
            action, target, backend = first.action, first.target, first.backend
            params = {**first.params, "intent_id": intent_id}
        self._append(
            action=action,
            target=target,
            params=params,
            backend=backend,
            result="ok" if ok else "error",
            detail=detail,
        )

    def refused(
        self, *, action: str, target: str, params: dict[str, Any], backend: str, reason: str
    ) -> None:
        self._append(
            action=action,
            target=target,
            params=params,
            backend=backend,
            result="refused",
            detail=reason,
        )


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, _ctx: UOWTransaction, _instances: object) -> None:
    changed = [o for o in (*session.dirty, *session.deleted) if isinstance(o, AuditEntry)]
    if any(o in session.deleted or session.is_modified(o) for o in changed):
        raise AppendOnlyError("the audit log is append-only: entries cannot be changed or deleted")

"""Approving the agent's proposals: only an admin holding the secret configured where the
dashboard runs (SCHEDSIGHT_ADMIN_TOKEN, handed over as `DashboardConfig.admin_token`) may;
a job action or a QOS change then goes through the Slurm backend within the remit, a
slurm.conf change is recorded and its diff handed over (never applied: the file is the
admin's), and every approval, rejection and action is written to the audit log.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from db.audit import AuditTrail, append_audit
from db.decisions import decide, list_decisions, record_outcome
from db.session import transaction
from db.store import Store
from hpc.slurm.actions import Action, apply_action
from hpc.slurm.backend import SlurmBackend
from hpc.slurm.conf_change import ConfChange
from hpc.slurm.errors import SlurmError
from hpc.slurm.qos_change import QosChange, TextCommands, apply_qos_change
from hpc.slurm.remit import Remit
from hpc.slurm.retry import Backoff

ADMIN_TOKEN_ENV = "SCHEDSIGHT_ADMIN_TOKEN"


class NotAdminError(PermissionError):
    """The token given does not match SCHEDSIGHT_ADMIN_TOKEN (or none is configured)."""


def admin_configured(admin_token: SecretStr) -> bool:
    return bool(admin_token.get_secret_value())


def check_admin(given: str, admin_token: SecretStr) -> None:
    expected = admin_token.get_secret_value()
    if not expected:
        raise NotAdminError(
            f"approvals are disabled: set {ADMIN_TOKEN_ENV} where the dashboard runs"
        )
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise NotAdminError("wrong admin token")


@dataclass(frozen=True, slots=True)
class SlurmSide:
    """How an approved job action reaches Slurm."""

    backend: Callable[[], SlurmBackend]
    remit: Remit
    backoff: Backoff


def decision_rows(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    """Newest first, as plain dicts (the page must not hold ORM objects past a session)."""
    with transaction(store.sessions) as session:
        return [
            {"id": d.id, "created_at": d.created_at.isoformat(timespec="seconds"),
             "question": d.question, "status": d.status.value, "action": d.proposal.get("action"),
             "chosen_by": d.proposal.get("chosen_by"), "rationale": d.rationale,
             "objectives": d.objectives, "guard": d.guard_verdict, "guard_reason": d.guard_reason,
             "approved_by": d.approved_by, "outcome": d.outcome}
            for d in list_decisions(session, limit=limit)
        ]  # fmt: skip


def slurm_action(action: dict[str, Any] | None) -> tuple[int, Action] | None:
    """The Slurm job action a proposal stands for; None for policy advice and what-ifs.

    A stored proposal names its kind in the one vocabulary (`agent.guard.parse_kind`); a
    priority's value may be stored as "value" or "priority".
    """
    from agent.guard import parse_kind
    from hpc.slurm.job_action import ActionKind as Kind

    if not action or action.get("job_id") is None:
        return None
    try:
        kind = parse_kind(str(action.get("kind")))
    except ValueError:
        return None
    if not isinstance(kind, Kind):
        return None
    raw = action.get("value", action.get("priority") if kind is Kind.PRIORITY else None)
    if raw is None and kind not in (Kind.HOLD, Kind.RELEASE):
        return None  # a kind that needs a value, without one: nothing to send
    return int(action["job_id"]), Action.parse(kind.value, None if raw is None else str(raw))


def reject(
    store: Store, decision_id: int, *, token: str, admin_token: SecretStr, actor: str = "admin"
) -> str:
    check_admin(token, admin_token)
    with transaction(store.sessions) as session:
        decide(session, decision_id=decision_id, approve=False, by=actor)
        _note(session, actor, decision_id, "reject", "rejected in the dashboard")
    return f"decision {decision_id} rejected"


def approve(
    store: Store,
    decision_id: int,
    *,
    token: str,
    admin_token: SecretStr,
    slurm: SlurmSide,
    actor: str = "admin",
) -> str:
    """Approve; send a job action or QOS change to Slurm (audited), or record advice or a
    slurm.conf change as approved (with the diff to apply)."""
    check_admin(token, admin_token)
    with transaction(store.sessions) as session:
        decision = decide(session, decision_id=decision_id, approve=True, by=actor)
        action = decision.proposal.get("action") or {}
        conf = ConfChange.from_action(action)
        if conf is not None:
            why = "approved a slurm.conf change: not applied by schedsight (the admin applies it)"
            _note(session, actor, decision_id, "approve", f"{why}\n{conf.diff()}")
            return (f"decision {decision_id} approved (slurm.conf is yours: nothing was applied). "
                    f"Apply this diff and run `scontrol reconfigure`:\n{conf.diff()}")  # fmt: skip
        qos = QosChange.from_action(action)
        target = slurm_action(action)
        if qos is None and target is None:
            why = "approved advice: nothing is sent to Slurm (a policy is site configuration)"
            _note(session, actor, decision_id, "approve", why)
            return f"decision {decision_id} approved (advice only: nothing sent to Slurm)"
    audit = AuditTrail(store.sessions, actor=actor, decision_id=decision_id)
    if qos is not None:
        return _send(store, decision_id, lambda: _send_qos(qos, slurm, audit))
    assert target is not None
    job_id, job_action = target

    def send_job() -> str:
        apply_action(slurm.backend(), job_id, job_action, remit=slurm.remit, audit=audit,
                     backoff=slurm.backoff)  # fmt: skip
        return f"{job_action.describe()} sent to job {job_id}"

    return _send(store, decision_id, send_job)


def _send(store: Store, decision_id: int, send: Callable[[], str]) -> str:
    """Run `send` (it says what it sent) and record the approved decision's outcome."""
    try:
        sent = send()
    except SlurmError as exc:
        with transaction(store.sessions) as session:
            record_outcome(session, decision_id=decision_id, applied=False,
                           outcome={"error": str(exc)})  # fmt: skip
        return f"decision {decision_id} approved but Slurm refused it: {exc}"
    with transaction(store.sessions) as session:
        record_outcome(session, decision_id=decision_id, applied=True, outcome={"sent": sent})
    return f"decision {decision_id} approved: {sent}"


def _send_qos(qos: QosChange, slurm: SlurmSide, audit: AuditTrail) -> str:
    backend = slurm.backend()
    if not isinstance(backend, TextCommands):
        raise SlurmError(f"QOS changes go through sacctmgr, which the {backend.name} backend "
                         "does not run: set SCHEDSIGHT_SLURM_BACKEND=cli")  # fmt: skip
    apply_qos_change(backend, qos, remit=slurm.remit, audit=audit, backoff=slurm.backoff)
    return f"{qos.describe()} sent"


def _note(session: Any, actor: str, decision_id: int, what: str, detail: str) -> None:
    append_audit(session, actor=actor, action=what, target=f"decision:{decision_id}", params={},
                 backend="dashboard", result="ok", detail=detail,
                 decision_id=decision_id)  # fmt: skip

"""Agent decisions: proposal, rationale, objectives traded, guard verdict, approval, outcome."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.errors import DbError, NotFoundError
from db.models import AgentDecision, DecisionStatus, utcnow


def record_decision(
    session: Session,
    *,
    question: str,
    proposal: dict[str, Any],
    rationale: str,
    objectives: dict[str, Any],
    guard_verdict: str,
    guard_reason: str | None = None,
    scenario_id: int | None = None,
) -> AgentDecision:
    if guard_verdict not in ("accepted", "rejected"):
        raise ValueError(f"guard verdict must be 'accepted' or 'rejected', got {guard_verdict!r}")
    decision = AgentDecision(
        question=question,
        proposal=proposal,
        rationale=rationale,
        objectives=objectives,
        guard_verdict=guard_verdict,
        guard_reason=guard_reason,
        status=DecisionStatus.PROPOSED if guard_verdict == "accepted" else DecisionStatus.REJECTED,
        scenario_id=scenario_id,
    )
    session.add(decision)
    session.flush()
    return decision


def decide(session: Session, *, decision_id: int, approve: bool, by: str) -> AgentDecision:
    """An admin approves or rejects a proposed decision (only once)."""
    decision = get_decision(session, decision_id=decision_id)
    if decision.status is not DecisionStatus.PROPOSED:
        raise DbError(f"decision {decision_id} is {decision.status.value}, not proposed")
    decision.status = DecisionStatus.APPROVED if approve else DecisionStatus.REJECTED
    decision.approved_by = by
    decision.decided_at = utcnow()
    return decision


def record_outcome(
    session: Session, *, decision_id: int, applied: bool, outcome: dict[str, Any]
) -> AgentDecision:
    decision = get_decision(session, decision_id=decision_id)
    if decision.status is not DecisionStatus.APPROVED:
        raise DbError(f"decision {decision_id} is {decision.status.value}: approve it first")
    decision.status = DecisionStatus.APPLIED if applied else DecisionStatus.FAILED
    decision.outcome = outcome
    return decision


def get_decision(session: Session, *, decision_id: int) -> AgentDecision:
    decision = session.get(AgentDecision, decision_id)
    if decision is None:
        raise NotFoundError("decision", decision_id)
    return decision


def list_decisions(
    session: Session, *, status: DecisionStatus | None = None, limit: int = 100
) -> list[AgentDecision]:
    stmt = select(AgentDecision).order_by(AgentDecision.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(AgentDecision.status == status)
    return list(session.scalars(stmt))

"""Decision records: what the agent decided, why, with which tool calls, verdicts and costs.

Modes build records in memory; `save_records` writes them through `db.decisions` in one
transaction, so a run's decisions are stored together or not at all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from db.decisions import record_decision
from db.session import transaction


@dataclass(slots=True)
class DecisionRecord:
    """One decision: the question, the action, its reasons and everything it cost."""

    question: str
    action: dict[str, Any]
    rationale: str
    objectives: dict[str, Any]
    verdict: dict[str, Any]  # the guard's: {"verdict", "reasons", "recomputed"}
    chosen_by: str  # "llm", "guard-fallback", "heuristic" (no choice to make), "search"
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def save_records(
    sessions: sessionmaker[Session],
    records: list[DecisionRecord],
    *,
    scenario_id: int | None = None,
) -> list[int]:
    """Store every record as an agent decision; their ids in order."""
    ids: list[int] = []
    with transaction(sessions) as session:
        for r in records:
            proposal = {
                "action": r.action,
                "chosen_by": r.chosen_by,
                "tool_calls": r.tool_calls,
                "guard": r.verdict,
                "timing": {"wall_s": r.wall_s},
                "llm": {
                    "calls": r.llm_calls,
                    "prompt_tokens": r.prompt_tokens,
                    "completion_tokens": r.completion_tokens,
                },
            }
            row = record_decision(
                session,
                question=r.question,
                proposal=proposal,
                rationale=r.rationale,
                objectives=r.objectives,
                guard_verdict=r.verdict["verdict"],
                guard_reason="; ".join(r.verdict.get("reasons", [])) or None,
                scenario_id=scenario_id,
            )
            ids.append(row.id)
    return ids

"""Scenarios: a workload plus everything a replay depends on, stored once by content key.

The spec maps the simulator's own types (Policy, Machine, Estimate, CapacityChange) to plain
JSON and back, so a stored scenario can be re-run exactly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.errors import NotFoundError
from db.models import Scenario
from db.upsert import insert_if_absent
from hpc.model import Machine
from hpc.sim import CapacityChange, MultifactorWeights, Policy
from hpc.sim.capacity import CapacityKind
from hpc.workload.cleaning import Estimate


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    """What a replay depends on, besides the workload."""

    policy: Policy
    machine: Machine
    estimate: Estimate = Estimate.REQUESTED
    capacity_changes: tuple[CapacityChange, ...] = ()

    def to_json(self) -> dict[str, Any]:
        weights = dataclasses.asdict(self.policy.weights)
        weights["qos_by_queue"] = [list(pair) for pair in self.policy.weights.qos_by_queue]
        return {
            "order": self.policy.order.value,
            "backfill": self.policy.backfill.value,
            "kill_at_limit": self.policy.kill_at_limit,
            "weights": weights,
            "machine": dataclasses.asdict(self.machine),
            "estimate": self.estimate.value,
            "capacity_changes": [
                {"time_s": c.time_s, "kind": c.kind.value, "units": c.units}
                for c in self.capacity_changes
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScenarioSpec:
        weights = dict(data["weights"])
        weights["qos_by_queue"] = tuple(tuple(pair) for pair in weights["qos_by_queue"])
        policy = Policy.parse(
            f"{data['order']}:{data['backfill']}",
            weights=MultifactorWeights(**weights),
            kill_at_limit=data["kill_at_limit"],
        )
        changes = tuple(
            CapacityChange(c["time_s"], CapacityKind(c["kind"]), c["units"])
            for c in data["capacity_changes"]
        )
        return cls(policy, Machine(**data["machine"]), Estimate(data["estimate"]), changes)

    def key(self, workload_checksum: str) -> str:
        canonical = json.dumps([workload_checksum, self.to_json()], sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


def get_or_create_scenario(
    session: Session,
    *,
    workload_id: int,
    workload_checksum: str,
    spec: ScenarioSpec,
    name: str | None = None,
) -> Scenario:
    """The stored scenario with this exact content, created if new (safe under concurrency)."""
    key = spec.key(workload_checksum)
    insert_if_absent(
        session,
        Scenario.__table__,  # type: ignore[arg-type]
        {
            "key": key,
            "workload_id": workload_id,
            "name": name,
            "policy": spec.policy.name,
            "spec": spec.to_json(),
        },
        conflict=["key"],
    )
    return session.scalars(select(Scenario).where(Scenario.key == key)).one()


def get_scenario(session: Session, *, scenario_id: int) -> Scenario:
    scenario = session.get(Scenario, scenario_id)
    if scenario is None:
        raise NotFoundError("scenario", scenario_id)
    return scenario

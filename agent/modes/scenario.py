"""A what-if as a typed scenario: signed node and GPU changes, when and for how long, a policy,
workload growth. `SCHEMA` is its JSON schema, the one form that both the rule reader
(`agent.modes.reading`) and a model's constrained reading fill; `Scenario` checks itself.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from agent.errors import InvalidScenario
from hpc.sim.policy import backfill_names, order_names

MAX_NODES = 1_000_000
MAX_GPUS = 10_000_000
MAX_HOURS = 24 * 366  # a year ahead, or a year long, at most
_PARTITION = re.compile(r"[A-Za-z0-9_.-]{1,64}")

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "scenario",
    "description": "One what-if: a change in capacity, policy or workload, when and how long.",
    "type": "object",
    "properties": {
        "node_delta": {
            "type": "integer",
            "minimum": -MAX_NODES,
            "maximum": MAX_NODES,
            "description": "nodes added (+16) or removed (-8); 0: no change in nodes",
        },
        "partition": {
            "type": ["string", "null"],
            "pattern": _PARTITION.pattern,
            "description": "the partition or node type the node change is in; null: overall",
        },
        "gpu_delta": {
            "type": "integer",
            "minimum": -MAX_GPUS,
            "maximum": MAX_GPUS,
            "description": "GPUs added (+8) or removed (-4); 0: no change in GPUs",
        },
        "start_in_hours": {
            "type": "number",
            "minimum": 0,
            "maximum": MAX_HOURS,
            "description": "hours from now until the change starts; 0: now (next week = 168)",
        },
        "duration_hours": {
            "type": ["number", "null"],
            "exclusiveMinimum": 0,
            "maximum": MAX_HOURS,
            "description": "hours the change lasts; null: for good",
        },
        "policy": {
            "type": ["string", "null"],
            "enum": [f"{o}:{b}" for o in order_names() for b in backfill_names()] + [None],
            "description": "queue order and backfill mode, ORDER:BACKFILL (e.g. sjf:easy); "
            "null: the policy does not change",
        },
        "workload_growth": {
            "type": ["number", "null"],
            "exclusiveMinimum": -1,
            "maximum": 10,
            "description": "relative change in the number of jobs (0.2: 20% more); null: none",
        },
    },
    "required": [
        "node_delta",
        "partition",
        "gpu_delta",
        "start_in_hours",
        "duration_hours",
        "policy",
        "workload_growth",
    ],
    "additionalProperties": False,
}


@dataclass(frozen=True, slots=True)
class Scenario:
    """One what-if (see `SCHEMA`); times are hours from now, `None` duration is permanent."""

    node_delta: int = 0
    partition: str | None = None
    gpu_delta: int = 0
    start_in_hours: float = 0.0
    duration_hours: float | None = None
    policy: str | None = None
    workload_growth: float | None = None

    def __post_init__(self) -> None:
        for name in ("node_delta", "gpu_delta"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidScenario(f"{name} must be a whole number, got {value!r}")
        if abs(self.node_delta) > MAX_NODES:
            raise InvalidScenario(f"node_delta {self.node_delta} is beyond +-{MAX_NODES}")
        if abs(self.gpu_delta) > MAX_GPUS:
            raise InvalidScenario(f"gpu_delta {self.gpu_delta} is beyond +-{MAX_GPUS}")
        if self.partition is not None and not _PARTITION.fullmatch(self.partition):
            raise InvalidScenario(
                f"partition {self.partition!r} is not a partition name (letters, digits, _.-)"
            )
        _check_hours("start_in_hours", self.start_in_hours, allow_zero=True)
        if self.duration_hours is not None:
            _check_hours("duration_hours", self.duration_hours, allow_zero=False)
        if self.policy is not None:
            order, _, backfill = self.policy.partition(":")
            if order not in order_names() or backfill not in backfill_names():
                raise InvalidScenario(
                    f"policy {self.policy!r} is not ORDER:BACKFILL with ORDER one of "
                    f"{', '.join(order_names())} and BACKFILL one of {', '.join(backfill_names())}"
                )
        growth = self.workload_growth
        if growth is not None and not (_finite(growth) and -1 < growth <= 10):
            raise InvalidScenario(
                f"workload_growth {growth!r} must be above -1 (all jobs gone) and at most 10"
            )
        if not self.changes_anything:
            raise InvalidScenario("the scenario changes nothing: no nodes, GPUs, policy or load")

    @property
    def changes_anything(self) -> bool:
        return bool(
            self.node_delta or self.gpu_delta or self.policy or self.workload_growth is not None
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scenario:
        """A scenario from JSON (a model's reply, a test file); unknown keys are refused."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise InvalidScenario(f"unknown scenario fields: {', '.join(sorted(unknown))}")
        return cls(**data)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """The scenario in plain words, e.g. 'adding 16 nodes 168 h from now, for good'."""
        parts = []
        if self.node_delta:
            where = f" to {self.partition}" if self.node_delta > 0 else f" from {self.partition}"
            verb = "adding" if self.node_delta > 0 else "removing"
            parts.append(f"{verb} {_count(abs(self.node_delta), 'node')}"
                         f"{where if self.partition else ''}")  # fmt: skip
        if self.gpu_delta:
            verb = "adding" if self.gpu_delta > 0 else "removing"
            parts.append(f"{verb} {_count(abs(self.gpu_delta), 'GPU')}")
        if self.workload_growth is not None:
            more = "more" if self.workload_growth > 0 else "fewer"
            parts.append(f"{abs(self.workload_growth):.0%} {more} jobs")
        if self.policy:
            parts.append(f"switching to {self.policy}")
        when = "now" if self.start_in_hours == 0 else f"{self.start_in_hours:g} h from now"
        span = "for good" if self.duration_hours is None else f"for {self.duration_hours:g} h"
        return f"{', '.join(parts)} {when}, {span}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_hours(name: str, value: object, *, allow_zero: bool) -> None:
    if not _finite(value):
        raise InvalidScenario(f"{name} must be a number of hours, got {value!r}")
    assert isinstance(value, int | float)
    low_ok = value >= 0 if allow_zero else value > 0
    if not low_ok or value > MAX_HOURS:
        low = "0" if allow_zero else "above 0"
        raise InvalidScenario(f"{name} {value:g} must be {low} and at most {MAX_HOURS} (a year)")

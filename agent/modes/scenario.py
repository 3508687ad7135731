"""A what-if as a typed scenario, and its JSON schema (`SCHEMA`): the one form that both the
rule reader (`agent.modes.reading`) and the model's constrained reading
(`agent.modes.model_reading`) fill. `Scenario` checks itself. The fields:

    node_delta        nodes added (+16) or removed (-8); 0: none
    partition         the partition or node type of the node (or GPU) change; null: overall
    gpu_delta         GPUs added (+8) or removed (-4); 0: none
    start_in_hours    hours from now until the change starts; 0: now (next week: 168)
    duration_hours    hours it lasts; null: for good
    policy            ORDER:BACKFILL (sjf:easy, fcfs:conservative); null: unchanged
    workload_growth   relative change in the number of jobs (0.2: 20% more); null: none
    priority_weights  multifactor weights set to new values ({"fairshare": 5000}); null: none
    limit             one QOS or partition limit ({"scope": "qos", "name": "long",
                      "what": "cores_per_user", "value": 256}); null: none
    request_accuracy  the share of its requested time a job uses (1: exact requests, 0.5:
                      twice what it needs); null: requests as submitted

Several fields together are several changes at once; the times apply to the node, GPU and
workload changes (a policy, weight, limit or accuracy change holds for the whole replay).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from typing import Any

from agent.errors import InvalidScenario
from hpc.sim.policy import backfill_names, order_names

MAX_NODES = 1_000_000
MAX_GPUS = 10_000_000
MAX_HOURS = 24 * 366  # a year ahead, or a year long, at most
MAX_WEIGHT = 4_294_967_295  # Slurm's PriorityWeight* are 32-bit unsigned
WEIGHTS = ("age", "fairshare", "job_size", "partition", "qos")
LIMITS = ("max_wall_hours", "cores_per_user", "gpus_per_user", "nodes_per_user",
          "cores_per_account", "gpus_per_account", "nodes_per_account",
          "jobs_per_user")  # fmt: skip
_NAME = r"[A-Za-z0-9_.-]{1,64}"
_PARTITION = re.compile(_NAME)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "scenario",
    "description": "One what-if: changes in capacity, policy, limits or workload, when and "
    "for how long. Several non-null fields are several changes at once.",
    "type": "object",
    "properties": {
        "node_delta": {"type": "integer", "minimum": -MAX_NODES, "maximum": MAX_NODES,
                       "description": "nodes added (+16) or removed (-8); 0: no change"},
        "partition": {"type": ["string", "null"], "pattern": _NAME,
                      "description": "the partition or node type of the node change; "
                      "null: overall"},
        "gpu_delta": {"type": "integer", "minimum": -MAX_GPUS, "maximum": MAX_GPUS,
                      "description": "GPUs added (+8) or removed (-4); 0: no change"},
        "start_in_hours": {"type": "number", "minimum": 0, "maximum": MAX_HOURS,
                           "description": "hours from now until the change starts; 0: now "
                           "(next week = 168)"},
        "duration_hours": {"type": ["number", "null"], "exclusiveMinimum": 0,
                           "maximum": MAX_HOURS,
                           "description": "hours the change lasts; null: for good"},
        "policy": {"type": ["string", "null"],
                   "enum": [f"{o}:{b}" for o in order_names() for b in backfill_names()]
                   + [None],
                   "description": "queue order and backfill mode, ORDER:BACKFILL (e.g. "
                   "sjf:easy); null: the policy does not change"},
        "workload_growth": {"type": ["number", "null"], "exclusiveMinimum": -1, "maximum": 10,
                            "description": "relative change in the number of jobs (0.2: 20% "
                            "more, -0.1: 10% fewer); null: none"},
        "priority_weights": _nullable({
            "type": "object",
            "properties": {w: {"type": "integer", "minimum": 0, "maximum": MAX_WEIGHT}
                           for w in WEIGHTS},
            "additionalProperties": False,
            "description": "multifactor priority weights set to new values, e.g. "
            '{"fairshare": 5000}; null: weights unchanged',
        }),
        "limit": _nullable({
            "type": "object",
            "properties": {
                "scope": {"enum": ["qos", "partition"]},
                "name": {"type": "string", "pattern": _NAME},
                "what": {"enum": list(LIMITS)},
                "value": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_GPUS},
            },
            "required": ["scope", "name", "what", "value"],
            "additionalProperties": False,
            "description": "one QOS or partition limit set, e.g. the long QOS at 256 cores "
            "per user; a partition takes max_wall_hours only; null: none",
        }),
        "request_accuracy": {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 1,
                             "description": "the share of its requested time a job uses (1: "
                             "exact requests; 0.5: asks twice what it needs); null: as "
                             "submitted"},
    },
    "additionalProperties": False,
}  # fmt: skip
SCHEMA["required"] = list(SCHEMA["properties"])
# Each field's value when the question does not change it, in `SCHEMA`'s form.
DEFAULTS: dict[str, Any] = {"node_delta": 0, "partition": None, "gpu_delta": 0,
                            "start_in_hours": 0.0, "duration_hours": None, "policy": None,
                            "workload_growth": None, "priority_weights": None, "limit": None,
                            "request_accuracy": None}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Limit:
    """A QOS or partition limit set to `value` (hours for max_wall_hours, else a count)."""

    scope: str
    name: str
    what: str
    value: float

    def __post_init__(self) -> None:
        if self.scope not in ("qos", "partition"):
            raise InvalidScenario(f"limit scope {self.scope!r} must be qos or partition")
        if not _PARTITION.fullmatch(str(self.name)):
            raise InvalidScenario(f"limit name {self.name!r} is not a QOS or partition name")
        if self.what not in LIMITS:
            raise InvalidScenario(f"limit {self.what!r} is not one of {', '.join(LIMITS)}")
        if self.scope == "partition" and self.what != "max_wall_hours":
            raise InvalidScenario(
                f"a partition limit is max_wall_hours (its MaxTime), not {self.what}"
            )
        if not (_finite(self.value) and 0 < self.value <= MAX_GPUS):
            raise InvalidScenario(f"limit value {self.value!r} must be a positive number")
        if self.what != "max_wall_hours" and self.value != int(self.value):
            raise InvalidScenario(f"limit {self.what} must be a whole number, got {self.value}")

    def describe(self) -> str:
        if self.what == "max_wall_hours":
            return f"a {self.value:g} h wall-time limit on {self.scope} {self.name}"
        count, per = self.what.rsplit("_per_", 1)
        return f"{self.scope} {self.name} capped at {self.value:g} {count} per {per}"


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
    priority_weights: tuple[tuple[str, int], ...] = ()  # (weight, value), sorted; (): none
    limit: Limit | None = None
    request_accuracy: float | None = None

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
        for key, value in self.priority_weights:
            if key not in WEIGHTS:
                raise InvalidScenario(f"priority weight {key!r} is not one of {', '.join(WEIGHTS)}")
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not 0 <= value <= MAX_WEIGHT
            ):
                raise InvalidScenario(
                    f"priority weight {key} must be 0..{MAX_WEIGHT}, got {value!r}"
                )
        accuracy = self.request_accuracy
        if accuracy is not None and not (_finite(accuracy) and 0 < accuracy <= 1):
            raise InvalidScenario(f"request_accuracy {accuracy!r} must be above 0 and at most 1")
        if not self.changes_anything:
            raise InvalidScenario(
                "the scenario changes nothing: no nodes, GPUs, policy, weights, limits or load"
            )

    @property
    def changes_anything(self) -> bool:
        return bool(self.node_delta or self.gpu_delta or self.policy or self.priority_weights
                    or self.limit or self.workload_growth is not None
                    or self.request_accuracy is not None)  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scenario:
        """A scenario from JSON (a model's reply, a test file); unknown keys are refused."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise InvalidScenario(f"unknown scenario fields: {', '.join(sorted(unknown))}")
        values = dict(data)
        weights = values.pop("priority_weights", None) or {}
        if not isinstance(weights, dict):
            raise InvalidScenario(f"priority_weights must be an object, got {weights!r}")
        limit = values.pop("limit", None)
        if limit is not None and not isinstance(limit, dict):
            raise InvalidScenario(f"limit must be an object, got {limit!r}")
        try:
            made = Limit(**limit) if limit is not None else None
        except TypeError as exc:
            raise InvalidScenario(f"limit needs scope, name, what and value ({exc})") from None
        return cls(**values, priority_weights=tuple(sorted(weights.items())), limit=made)

    def as_dict(self) -> dict[str, Any]:
        """The scenario as JSON-able data, in `SCHEMA`'s form."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["priority_weights"] = dict(self.priority_weights) or None
        data["limit"] = None if self.limit is None else {
            f.name: getattr(self.limit, f.name) for f in fields(self.limit)}  # fmt: skip
        return data

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
            where = f" ({self.partition})" if self.partition and not self.node_delta else ""
            parts.append(f"{verb} {_count(abs(self.gpu_delta), 'GPU')}{where}")
        if self.workload_growth is not None:
            more = "more" if self.workload_growth > 0 else "fewer"
            parts.append(f"{abs(self.workload_growth):.0%} {more} jobs")
        timed = bool(parts)
        if self.policy:
            parts.append(f"switching to {self.policy}")
        if self.priority_weights:
            weights = ", ".join(f"{k} {v}" for k, v in self.priority_weights)
            parts.append(f"priority weights set to {weights}")
        if self.limit:
            parts.append(self.limit.describe())
        if self.request_accuracy is not None:
            parts.append(f"jobs requesting {_accuracy(self.request_accuracy)}")
        if not timed:
            return ", ".join(parts)
        when = "now" if self.start_in_hours == 0 else f"{self.start_in_hours:g} h from now"
        span = "for good" if self.duration_hours is None else f"for {self.duration_hours:g} h"
        return f"{', '.join(parts)} {when}, {span}"


def _accuracy(share: float) -> str:
    if share == 1:
        return "exactly the time they use"
    return f"{1 / share:.3g}x the time they use"


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

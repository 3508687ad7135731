"""A what-if: one workload replayed under several policies, compared in a table, on a trade-off
(Pareto) front and per user. Pure logic, no Streamlit: the What-if page only draws it.
A request naming a stored site is a site what-if (run by `dashboard.site_whatif`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from dashboard.config import JOBS_RANGE, PROCS_RANGE, SEED_RANGE
from hpc.compare import replay_policies
from hpc.errors import HpcError
from hpc.metrics import breakdown, jain_index, summarize
from hpc.sim import CapacityChange, MultifactorWeights, Policy
from hpc.sim.policy import policy_names
from hpc.site.whatif import SITE_POLICIES
from hpc.workload.loading import LoadedWorkload

DEFAULT_POLICIES = ("fcfs:easy", "sjf:easy", "wfp3:easy", "multifactor:easy")
ALL_POLICIES = policy_names()
WEIGHT_NAMES = ("age", "fairshare", "job_size", "qos")
# What a what-if may ask for (JOBS_RANGE, SEED_RANGE, PROCS_RANGE) lives in dashboard.config.
WEIGHT_MAX = 1e9
# Trade-off axes: both are "lower is better" once utilization is negated.
PARETO_X, PARETO_Y = "mean_wait_s", "utilization"
GENERATED = "generated"  # a site what-if's workload: this, or a stored one as workload:ID
SITE_DEFAULT_POLICIES = tuple(p for p in DEFAULT_POLICIES if p in SITE_POLICIES)

Progress = Callable[[int, int, str], None]  # (done, total, what)


class ScenarioError(ValueError):
    """A what-if the user asked for cannot be built (says which field and why)."""


@dataclass(frozen=True, slots=True)
class WhatIfRequest:
    """Everything that defines a what-if; also its shareable query string."""

    jobs: int = 2000
    seed: int = 7
    procs: int = 256
    policies: tuple[str, ...] = DEFAULT_POLICIES
    capacity: tuple[str, ...] = ()  # KIND@TIME:UNITS, TIME in trace seconds
    weights: tuple[float, float, float, float] = (1000.0, 1000.0, 200.0, 0.0)  # WEIGHT_NAMES
    site: str = ""  # NAME@VERSION of a stored site; "" for the generated machine
    workload: str = GENERATED  # with a site: GENERATED (jobs, seed) or workload:ID
    changes: tuple[str, ...] = ()  # with a site: hpc.site.changes lines, as typed

    def __post_init__(self) -> None:
        for name, (lo, hi) in (("jobs", JOBS_RANGE), ("seed", SEED_RANGE),
                               ("procs", PROCS_RANGE)):  # fmt: skip
            value = getattr(self, name)
            if not lo <= value <= hi:
                raise ScenarioError(f"{name} must be within {lo}..{hi}, got {value}")
        for name, w in zip(WEIGHT_NAMES, self.weights, strict=True):
            if not 0.0 <= w <= WEIGHT_MAX:  # also refuses NaN
                raise ScenarioError(f"weight {name} must be within 0..{WEIGHT_MAX:g}, got {w}")
        if not self.policies:
            raise ScenarioError("choose at least one policy")
        unknown = [p for p in self.policies if p not in ALL_POLICIES]
        if unknown:
            choices = ", ".join(ALL_POLICIES)
            raise ScenarioError(f"unknown policy {unknown[0]!r}: choose among {choices}")
        if len(set(self.policies)) != len(self.policies):
            raise ScenarioError("each policy may be chosen once")
        self.parsed_policies()
        self.parsed_capacity()
        if self.site:
            self._check_site()

    def _check_site(self) -> None:
        name, at, version = self.site.partition("@")
        if not name or not at or not version.isdigit():
            raise ScenarioError(f"site {self.site!r}: give NAME@VERSION, e.g. lab@1")
        number = self.workload.removeprefix("workload:")
        if self.workload != GENERATED and (number == self.workload or not number.isdigit()):
            raise ScenarioError(f"workload {self.workload!r}: {GENERATED} or workload:ID")
        unknown = [p for p in self.policies if p not in SITE_POLICIES]
        if unknown:
            raise ScenarioError(f"a site replay does not run {unknown[0]!r}: choose among "
                                f"{', '.join(SITE_POLICIES)}")  # fmt: skip

    def parsed_weights(self) -> MultifactorWeights:
        age, fairshare, job_size, qos = self.weights
        try:
            return MultifactorWeights(age=age, fairshare=fairshare, job_size=job_size, qos=qos)
        except HpcError as exc:
            raise ScenarioError(str(exc)) from None

    def parsed_policies(self) -> list[Policy]:
        weights = self.parsed_weights()
        try:
            return [Policy.parse(p, weights=weights) for p in self.policies]
        except HpcError as exc:
            raise ScenarioError(str(exc)) from None

    def parsed_capacity(self) -> tuple[CapacityChange, ...]:
        try:
            return tuple(sorted(CapacityChange.parse(c) for c in self.capacity))
        except HpcError as exc:
            raise ScenarioError(str(exc)) from None

    def to_query(self) -> dict[str, str]:
        query = {
            "jobs": str(self.jobs),
            "seed": str(self.seed),
            "procs": str(self.procs),
            "policies": ",".join(self.policies),
            "capacity": ",".join(self.capacity),
            "weights": ",".join(f"{w:g}" for w in self.weights),
        }
        if self.site:  # a change line may hold commas: one line per line of the parameter
            query.update(site=self.site, workload=self.workload, changes="\n".join(self.changes))
        return query

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> WhatIfRequest:
        """From a shared link; missing keys keep their defaults, bad ones raise ScenarioError."""
        base = cls()
        try:
            weights = (
                tuple(float(w) for w in query["weights"].split(","))
                if query.get("weights")
                else base.weights
            )
            if len(weights) != 4:
                raise ScenarioError("weights needs four numbers: age,fairshare,job_size,qos")
            site = query.get("site", "")
            policies = SITE_DEFAULT_POLICIES if site else base.policies
            return replace(
                base,
                jobs=int(query.get("jobs", base.jobs)),
                seed=int(query.get("seed", base.seed)),
                procs=int(query.get("procs", base.procs)),
                policies=_split(query["policies"]) if "policies" in query else policies,
                capacity=_split(query.get("capacity", "")),
                weights=(weights[0], weights[1], weights[2], weights[3]),
                site=site,
                workload=query.get("workload", GENERATED),
                changes=change_lines(query.get("changes", "")),
            )
        except ValueError as exc:
            if isinstance(exc, ScenarioError):
                raise
            raise ScenarioError(f"bad link parameter: {exc}") from None


def _split(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def change_lines(text: str) -> tuple[str, ...]:
    """A text area's change lines as typed (numbered as shown), less trailing blank ones."""
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return tuple(lines)


@dataclass(slots=True)
class PolicyOutcome:
    """One policy's figures; `stored` holds what a saved run needs (see dashboard.saved)."""

    name: str
    summary: dict[str, Any]
    per_user: list[dict[str, Any]]
    per_partition: list[dict[str, Any]]
    stored: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(slots=True)
class WhatIfOutcome:
    request: WhatIfRequest
    machine: str
    outcomes: list[PolicyOutcome]
    wall_s: float

    def comparison(self) -> list[dict[str, Any]]:
        """One row per policy: the figures a comparison table shows, and the Pareto flag."""
        front = pareto_front(self.outcomes)
        keys = ("mean_wait_s", "p95_wait_s", "mean_bsld", "utilization", "makespan_s",
                "jain_fairness", "unstarted", "killed_by_failure")  # fmt: skip
        return [
            {"policy": o.name, **{k: o.summary[k] for k in keys}, "pareto": o.name in front}
            for o in self.outcomes
        ]

    def fairness(self) -> list[dict[str, Any]]:
        """Per user and policy: mean wait and usage share (long format, for a chart)."""
        return [
            {"policy": o.name, "user": int(r["key"]), "jobs": int(r["jobs"]),
             "mean_wait_s": float(r["mean_wait_s"]), "usage_share": float(r["usage_share"])}
            for o in self.outcomes
            for r in o.per_user
        ]  # fmt: skip

    def user_wait_fairness(self) -> dict[str, float]:
        """Jain's index over users' mean waits, per policy (1 = every user waits alike)."""
        import numpy as np

        return {
            o.name: jain_index(np.array([r["mean_wait_s"] for r in o.per_user], dtype=float))
            for o in self.outcomes
        }


def pareto_front(outcomes: list[PolicyOutcome]) -> set[str]:
    """Policies no other policy beats on both lower mean wait and higher utilization."""
    from hpc.compare import pareto_front as front_of

    rows = [o.summary for o in outcomes]
    return {outcomes[i].name for i in front_of(rows, {PARETO_X: True, PARETO_Y: False})}


def run_whatif(
    request: WhatIfRequest, loaded: LoadedWorkload, progress: Progress | None = None
) -> WhatIfOutcome:
    """Replay `loaded` under each policy of `request`, reporting progress after each one."""
    t0 = time.perf_counter()
    policies, changes = request.parsed_policies(), request.parsed_capacity()
    current = policies[0] if policies else None

    def started(k: int, policy: Policy) -> None:
        nonlocal current
        current = policy
        if progress:
            progress(k, len(policies), f"simulating {policy.name}")

    try:
        results = replay_policies(
            loaded.jobs, loaded.machine, policies, capacity_changes=changes, on_start=started
        )
    except HpcError as exc:
        raise ScenarioError(f"{current.name if current else '?'}: {exc}") from None
    outcomes = [
        PolicyOutcome(
            policy.name,
            summarize(result).as_dict(),
            [r.as_dict() for r in breakdown(result, "user")],
            [r.as_dict() for r in breakdown(result, "partition")],
            {"start_s": result.start_s, "end_s": result.end_s},
        )
        for policy, result in zip(policies, results, strict=True)
    ]
    if progress:
        progress(len(policies), len(policies), "done")
    return WhatIfOutcome(request, loaded.machine.describe(), outcomes, time.perf_counter() - t0)

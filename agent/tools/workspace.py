"""The tools' world: one workload on one machine, read and simulated, never changed; with a
site, also that workload on the site as it is and as what-if change lines make it.

Every public method is a tool (see `toolbox`): typed, documented, returning small JSON-able
dicts so that a small model's context stays short. Times are seconds since the trace start.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Literal, get_args

import numpy as np

from agent.llm.prompts import quote
from agent.tools.toolbox import Tool, Toolbox, tool
from hpc.metrics import Summary, summarize
from hpc.model import JobTable, Machine
from hpc.sim import CapacityChange, CapacityKind, Policy, SimResult, simulate
from hpc.sim.site_engine import SiteResult
from hpc.site.model import Site
from hpc.site.whatif import SiteWorkload, changed_site, compare, replay

PolicyName = Literal[
    "fcfs:none",
    "fcfs:easy",
    "fcfs:conservative",
    "sjf:easy",
    "sjf:conservative",
    "wfp3:easy",
    "unicep:easy",
    "f1:easy",
    "multifactor:easy",
]
POLICY_NAMES: tuple[str, ...] = get_args(PolicyName)
# The policies a site replay runs (hpc.site.whatif.SITE_POLICIES; a test keeps them in step).
SitePolicyName = Literal[
    "fcfs:none",
    "fcfs:easy",
    "fcfs:conservative",
    "sjf:none",
    "sjf:easy",
    "sjf:conservative",
    "multifactor:none",
    "multifactor:easy",
    "multifactor:conservative",
]
HOUR_S = 3600
# More (or fewer) jobs: (relative rate, from hour, for hours or None for good); see `grown`.
Growth = tuple[float, float, float | None]
NO_GROWTH: Growth = (0.0, 0.0, None)


def brief(summary: Summary) -> dict[str, float]:
    """The figures a person reads first, rounded."""
    return {
        "mean_wait_s": round(summary.mean_wait_s, 1),
        "p95_wait_s": round(summary.p95_wait_s, 1),
        "mean_bsld": round(summary.mean_bsld, 3),
        "utilization": round(summary.utilization, 4),
        "makespan_s": summary.makespan_s,
        "jain_fairness": round(summary.jain_fairness, 4),
        "unstarted": summary.unstarted,
        "killed_by_failure": summary.killed_by_failure,
    }


def _rounded(row: Mapping[str, Any]) -> dict[str, Any]:
    """A per-partition row with its waits to 0.1 s and its shares to 4 places."""
    places = {"mean_wait_s": 1, "p95_wait_s": 1, "usage_share": 4}
    out = dict(row)
    for key, value in row.items():
        digits = next((d for k, d in places.items() if key.startswith(k)), None)
        if digits is not None and value is not None:
            out[key] = round(value, digits)
    return out


class Workspace:
    """A workload, its machine, the site's current policy and a snapshot time; optionally a
    stored site (`site_label` NAME@VERSION) and the workload cleaned for it."""

    def __init__(
        self,
        jobs: JobTable,
        machine: Machine,
        *,
        policy: Policy | None = None,
        names: Mapping[int, str] | None = None,
        now_s: int | None = None,
        site: Site | None = None,
        site_label: str = "",
        site_workload: SiteWorkload | None = None,
    ) -> None:
        if (site is None) != (site_workload is None):
            raise ValueError("a workspace's site comes with its workload: give both or neither")
        self.jobs, self.machine = jobs, machine
        self.policy = policy or Policy()
        self.names = dict(names or {})
        first = int(jobs.submit_s[0]) if len(jobs) else 0
        self.now_s = now_s if now_s is not None else first
        self.origin_s = first
        self._cache: dict[tuple[Any, ...], SimResult] = {}
        self.site, self.site_workload = site, site_workload
        self.site_label = site_label or (site.name if site else "")
        self._site_cache: dict[tuple[str, tuple[str, ...]], SiteResult] = {}

    @classmethod
    def for_site(cls, site: Site, label: str, workload: SiteWorkload) -> Workspace:
        """A workspace on `workload` (its one-pool machine for the other tools) and `site`."""
        return cls(workload.jobs, workload.machine, site=site, site_label=label,
                   site_workload=workload)  # fmt: skip

    def run(
        self, policy: str, changes: tuple[CapacityChange, ...] = (), growth: Growth = NO_GROWTH
    ) -> SimResult:
        """A replay (cached: the same question costs one simulation)."""
        key = (policy, changes, growth)
        if key not in self._cache:
            p = Policy.parse(policy, weights=self.policy.weights)
            jobs = self.grown(*growth)
            self._cache[key] = simulate(jobs, self.machine, p, capacity_changes=changes)
        return self._cache[key]

    def grown(self, rate: float, from_hour: float, for_hours: float | None) -> JobTable:
        """The workload with `rate` more jobs per hour (0.2: 20% more) from `from_hour` after
        the snapshot for `for_hours` (None: to the end): the same jobs, submitted closer
        together in that window (further apart where `rate` < 0); later ones move with it."""
        if rate == 0:
            return self.jobs
        if rate <= -1:
            raise ValueError(f"workload growth {rate:g} would leave no jobs: it must be above -1")
        start = self.now_s + int(from_hour * HOUR_S)
        submit = self.jobs.submit_s.astype(np.float64)
        end = float(submit.max()) + 1 if for_hours is None else start + for_hours * HOUR_S
        inside = (submit >= start) & (submit < end)
        after = submit >= end
        moved = submit.copy()
        moved[inside] = start + (submit[inside] - start) / (1 + rate)
        moved[after] = submit[after] - (end - start) * (1 - 1 / (1 + rate))
        return replace(self.jobs, submit_s=np.floor(moved).astype(self.jobs.submit_s.dtype))

    def lost_nodes(
        self, nodes: int, from_hour: float, for_hours: float
    ) -> tuple[CapacityChange, ...]:
        """Capacity changes for `nodes` nodes failing `from_hour` after the snapshot, back
        after `for_hours` (0: never)."""
        return self.node_changes(-nodes, from_hour, for_hours or None) if nodes > 0 else ()

    def node_changes(
        self, delta: int, from_hour: float, for_hours: float | None
    ) -> tuple[CapacityChange, ...]:
        """Capacity changes for `delta` nodes added (> 0) or failing (< 0) `from_hour` after
        the snapshot, for `for_hours` (None: for good). Added nodes leave by a drain: the
        jobs running on them finish."""
        if delta == 0:
            return ()
        if -delta >= self.machine.nodes:
            raise ValueError(
                f"cannot lose {-delta} nodes: the machine has {self.machine.nodes}; "
                "at least one must remain"
            )
        nodes = abs(delta)
        units = nodes if self.machine.node_exclusive else nodes * self.machine.cores_per_node
        at = self.now_s + int(from_hour * HOUR_S)
        first, then = (
            (CapacityKind.ADD, CapacityKind.DRAIN) if delta > 0
            else (CapacityKind.FAIL, CapacityKind.RETURN)
        )  # fmt: skip
        changes = [CapacityChange(at, first, units)]
        if for_hours:
            changes.append(CapacityChange(at + int(for_hours * HOUR_S), then, units))
        return tuple(changes)

    # -- tools -------------------------------------------------------------------------

    def queue_state(self, limit: int = 8) -> dict[str, Any]:
        """The jobs waiting at the snapshot time under the current policy, oldest first.

        Args:
            limit: how many waiting jobs to list (the count covers all of them).
        """
        result = self.run(self.policy.name)
        now = self.now_s
        waiting = np.flatnonzero((self.jobs.submit_s <= now) & (result.start_s > now))
        rows = [self._job_row(int(j), result) for j in waiting[: max(limit, 0)]]
        return {"time_s": now, "waiting": len(waiting), "jobs": rows}

    def cluster_state(self) -> dict[str, Any]:
        """The machine and how busy it is at the snapshot time under the current policy."""
        result = self.run(self.policy.name)
        now = self.now_s
        running = (result.start_s <= now) & (result.end_s > now)
        used = int(result.units[running].sum())
        return {
            "machine": self.machine.describe(),
            "nodes": self.machine.nodes,
            "units": self.machine.units,
            "units_busy": used,
            "running_jobs": int(running.sum()),
            "policy": self.policy.name,
        }

    def simulate_scenario(
        self,
        policy: PolicyName = "fcfs:easy",
        lost_nodes: int = 0,
        from_hour: float = 0.0,
        for_hours: float = 0.0,
        added_nodes: int = 0,
        workload_growth: float = 0.0,
    ) -> dict[str, Any]:
        """Replay the whole workload under a policy, optionally with nodes lost or added for a
        while.

        Args:
            policy: queue order and backfill mode, e.g. fcfs:easy.
            lost_nodes: nodes that fail (0: none).
            from_hour: hours after the snapshot when they fail or are added.
            for_hours: hours until they return or leave again (0: for good).
            added_nodes: nodes added to the machine (0: none); not with lost_nodes.
            workload_growth: more jobs from from_hour for for_hours (0.2: 20% more; 0: none).
        """
        if lost_nodes and added_nodes:
            raise ValueError("give lost_nodes or added_nodes, not both")
        changes = self.node_changes(added_nodes - lost_nodes, from_hour, for_hours or None)
        growth = (workload_growth, from_hour, for_hours or None) if workload_growth else NO_GROWTH
        return {"policy": policy, **brief(summarize(self.run(policy, changes, growth)))}

    def compare_policies(self, policies: list[PolicyName]) -> list[dict[str, Any]]:
        """Replay the workload under several policies and list their figures side by side.

        Args:
            policies: the policies to compare, e.g. ["fcfs:easy", "sjf:easy"].
        """
        return [self.simulate_scenario(p) for p in policies[:6]]

    def predict_start(self, job_id: int, policy: PolicyName = "fcfs:easy") -> dict[str, Any]:
        """When a job starts and how long it waits, predicted by replaying the workload.

        Args:
            job_id: the job's id.
            policy: the policy to replay under.
        """
        j = self._index(job_id)
        result = self.run(policy)
        return {
            "job_id": job_id,
            "policy": policy,
            "start_s": int(result.start_s[j]),
            "wait_s": int(result.start_s[j] - self.jobs.submit_s[j]),
        }

    def explain_job(self, job_id: int) -> dict[str, Any]:
        """Why a job waits under the current policy: its size, and the load when it arrived.

        Args:
            job_id: the job's id.
        """
        j = self._index(job_id)
        result = self.run(self.policy.name)
        submit = int(self.jobs.submit_s[j])
        busy = (result.start_s <= submit) & (result.end_s > submit)
        ahead = (self.jobs.submit_s < submit) & (result.start_s > submit)
        return {
            **self._job_row(j, result),
            "units_busy_at_submit": int(result.units[busy].sum()),
            "units_total": self.machine.units,
            "jobs_waiting_ahead": int(ahead.sum()),
            "units_wanted_ahead": int(result.units[ahead].sum()),
        }

    def site_whatif(
        self, changes: list[str], policy: SitePolicyName = "fcfs:easy"
    ) -> dict[str, Any]:
        """Replay the workload on the site as it is and as changed, and compare per partition.

        Args:
            changes: one site change per item, in the what-if grammar, e.g. "add 4 nodes to
                gpu", "remove 2 nodes from batch", "qos long MaxTRESPU=cpu=256", "weight
                fairshare=5000", "reserve gpu from 2d for 4h", "fail switch s1 at 6h".
            policy: queue order and backfill mode of both replays.
        """
        if self.site is None or self.site_workload is None:
            raise ValueError("this workspace has no site: start the agent with --site NAME")
        changed, parsed = changed_site(self.site, changes)  # a bad line: before any replay
        texts = tuple(c.text for c in parsed)
        before, after = (
            self._site_run(policy, self.site, ()),
            self._site_run(policy, changed, texts),
        )
        result = compare(policy, before, after, parsed)
        return {
            "site": self.site_label,
            "workload": self.site_workload.label,
            "policy": policy,
            "changes": list(texts),
            "overall": {"before": brief(result.before), "after": brief(result.after)},
            "partitions": [_rounded(row) for row in result.partitions()],
        }

    def _site_run(self, policy: str, site: Site, changes: tuple[str, ...]) -> SiteResult:
        """A site replay (cached by policy and change lines: the baseline runs once)."""
        assert self.site_workload is not None
        key = (policy, changes)
        if key not in self._site_cache:
            self._site_cache[key] = replay(self.site_workload, site, policy)
        return self._site_cache[key]

    def _job_row(self, j: int, result: SimResult) -> dict[str, Any]:
        job_id = int(self.jobs.job_id[j])
        return {
            "job_id": job_id,
            "name": quote(self.names.get(job_id, "")),  # untrusted: a quoted string
            "user": int(self.jobs.user[j]),
            "units": int(result.units[j]),
            "req_time_s": int(self.jobs.req_time_s[j]),
            "submit_s": int(self.jobs.submit_s[j]),
            "start_s": int(result.start_s[j]),
        }

    def _index(self, job_id: int) -> int:
        where = np.flatnonzero(self.jobs.job_id == job_id)
        if len(where) == 0:
            raise ValueError(f"no job {job_id} in this workload")
        return int(where[0])


def toolbox(workspace: Workspace) -> Toolbox:
    """The read-and-simulate tools over `workspace` (none of them acts on anything);
    `site_whatif` where the workspace has a site."""
    methods: list[Callable[..., Any]] = [
        workspace.queue_state,
        workspace.cluster_state,
        workspace.simulate_scenario,
        workspace.compare_policies,
        workspace.predict_start,
        workspace.explain_job,
    ]
    if workspace.site is not None:
        methods.append(workspace.site_whatif)
    return Toolbox(tool(m) for m in methods)


def tools_of(box: Toolbox) -> list[Tool]:
    return list(box.tools.values())

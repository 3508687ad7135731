"""A site what-if: one workload replayed on a site as it is and as the change lines of
`hpc.site.changes` make it, compared per partition. The dashboard and the agent both ask
their what-ifs through here, so one grammar reads and answers them the same everywhere.

Change lines are numbered from 1 as given (a blank line or a `#` comment counts, and is
skipped), so an error names the line a person typed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hpc.errors import SiteError
from hpc.metrics import Summary, summarize
from hpc.model import JobTable, Machine
from hpc.sim.policy import Policy, QueueOrder
from hpc.sim.site_engine import PartitionRow, SiteResult, simulate_site
from hpc.sim.site_jobs import SiteDemand
from hpc.sim.site_mapping import demand_from_trace
from hpc.site.changes import GRAMMAR, SiteChange, parse_change
from hpc.site.model import JobResources, Site
from hpc.workload.trace import SwfHeader, SwfTrace

# The queue orders a site replay knows (`hpc.sim.site_engine`), with each backfill mode.
SITE_ORDERS = (QueueOrder.FCFS, QueueOrder.SJF, QueueOrder.MULTIFACTOR)
SITE_POLICIES = tuple(
    f"{order.value}:{backfill}"
    for order in SITE_ORDERS
    for backfill in ("none", "easy", "conservative")
)
GRAMMAR_LINES = tuple(GRAMMAR.split(" | "))
# The overall figures compared, as `hpc.metrics.Summary` names them.
OVERALL = ("jobs", "unstarted", "mean_wait_s", "p95_wait_s", "mean_bsld", "utilization",
           "makespan_s")  # fmt: skip
_PARTITION = ("started", "mean_wait_s", "p95_wait_s", "usage_share")


class ChangeLineError(SiteError):
    """A change line that cannot be read or applied: its number (from 1), text and why."""

    def __init__(self, number: int, text: str, reason: str) -> None:
        self.number, self.text, self.reason = number, text, reason
        grammar = "" if GRAMMAR in reason else f"; the grammar, one change per line: {GRAMMAR}"
        super().__init__(f"change line {number} {text!r}: {reason}{grammar}")


def changed_site(site: Site, lines: Sequence[str]) -> tuple[Site, tuple[SiteChange, ...]]:
    """`site` with each line's change applied in order; every line is read before any applies.

    Raises `ChangeLineError` for the first line that cannot be read, else for the first that
    cannot be applied to the site (no such partition, too few nodes...)."""
    numbered: list[tuple[int, SiteChange]] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        try:
            numbered.append((number, parse_change(text)))
        except SiteError as exc:
            raise ChangeLineError(number, text.strip(), str(exc)) from None
    for number, change in numbered:
        try:
            site = change.apply(site)
        except SiteError as exc:
            raise ChangeLineError(number, change.text, str(exc)) from None
    return site, tuple(change for _, change in numbered)


@dataclass(frozen=True, slots=True)
class SiteWorkload:
    """Jobs for a site replay and what maps them onto a site: the partition names of the
    trace's header and, for a Slurm import, each job's GPUs, account and QOS."""

    label: str
    jobs: JobTable
    machine: Machine  # the one-pool machine of the site's cores, as the jobs were cleaned for
    header: SwfHeader
    resources: Mapping[int, JobResources] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what cleaning did

    def demand(self, site: Site) -> SiteDemand:
        return demand_from_trace(self.jobs, self.header, site, self.resources)


def site_workload(
    trace: SwfTrace,
    site: Site,
    label: str,
    resources: Mapping[int, JobResources] | None = None,
) -> SiteWorkload:
    """`trace` cleaned for `site` as it is (its cores): a job a what-if makes impossible stays
    in and counts as never started, instead of vanishing from the figures."""
    from hpc.workload.loading import prepare_workload

    loaded = prepare_workload(trace, procs=site.totals()["cores"])
    return SiteWorkload(label, loaded.jobs, loaded.machine, trace.header, dict(resources or {}),
                        tuple(loaded.report_lines()))  # fmt: skip


def generated_site_workload(jobs: int, seed: int, site: Site) -> SiteWorkload:
    """A seeded Lublin-Feitelson workload for `site`, its jobs spread over the partitions in
    proportion to their cores (a job goes only where it fits; else to the default one)."""
    from hpc.workload.lublin import generate

    cores = site.totals()["cores"]
    base = site_workload(generate(jobs, seed=seed, procs=cores), site, f"generated {jobs} jobs "
                         f"(seed {seed})")  # fmt: skip
    sizes = np.array([site.totals(p.name)["cores"] for p in site.partitions], dtype=float)
    weight = (base.jobs.procs[:, None] <= sizes[None, :]) * sizes[None, :]
    cumulative = np.cumsum(weight, axis=1)
    draw = np.random.Generator(np.random.PCG64(seed + 1)).random(len(base.jobs))
    pick = (cumulative < (draw * cumulative[:, -1])[:, None]).sum(axis=1)
    default = site.partitions.index(site.partition(None))
    pick = np.where(cumulative[:, -1] > 0, pick, default)
    names = ",".join(f"{i + 1}={p.name}" for i, p in enumerate(site.partitions))
    header = SwfHeader({**base.header.keys, "Partitions": names}, list(base.header.comments))
    jobs_ = dataclasses.replace(base.jobs, partition=(pick + 1).astype(np.int64))
    return dataclasses.replace(base, jobs=jobs_, header=header)


@dataclass(frozen=True, slots=True)
class SiteWhatIf:
    """One policy's replay on the site as it is (before) and as changed (after)."""

    policy: str
    changes: tuple[str, ...]
    before: Summary
    after: Summary
    before_partitions: tuple[PartitionRow, ...]
    after_partitions: tuple[PartitionRow, ...]

    def partitions(self) -> list[dict[str, Any]]:
        """Per partition: its jobs, then started, mean and p95 wait (s) and usage share,
        each before and after."""
        after = {r.partition: r for r in self.after_partitions}
        rows = []
        for b in self.before_partitions:
            a = after.get(b.partition)
            row: dict[str, Any] = {"partition": b.partition, "jobs": b.jobs}
            for key in _PARTITION:
                row[f"{key}_before"] = getattr(b, key)
                row[f"{key}_after"] = getattr(a, key) if a is not None else None
            rows.append(row)
        return rows

    def overall(self) -> list[dict[str, Any]]:
        """Two rows, the site as it is and as changed, with the figures of `OVERALL`."""
        return [
            {"policy": self.policy, "site": which, **{k: getattr(s, k) for k in OVERALL}}
            for which, s in (("as it is", self.before), ("changed", self.after))
        ]


def site_policy(name: str) -> Policy:
    """A policy a site replay runs; `SiteError` lists the ones it knows."""
    if name not in SITE_POLICIES:
        raise SiteError(f"a site replay runs one of {', '.join(SITE_POLICIES)}, not {name!r}")
    return Policy.parse(name)


def replay(workload: SiteWorkload, site: Site, policy: str) -> SiteResult:
    return simulate_site(workload.jobs, site, site_policy(policy), workload.demand(site))


def compare(
    policy: str, before: SiteResult, after: SiteResult, changes: Sequence[SiteChange]
) -> SiteWhatIf:
    """The figures of two replays under `policy`: the site as it is, and as changed."""
    return SiteWhatIf(
        policy,
        tuple(c.text for c in changes),
        summarize(before.result),
        summarize(after.result),
        tuple(before.partition_summary()),
        tuple(after.partition_summary()),
    )


def site_whatif(
    workload: SiteWorkload, site: Site, lines: Sequence[str], policy: str
) -> SiteWhatIf:
    """Replay `workload` on `site` and on `site` changed by `lines`, under `policy`.

    Every line is read and applied before anything is replayed (`ChangeLineError`)."""
    changed, changes = changed_site(site, lines)
    site_policy(policy)
    before, after = replay(workload, site, policy), replay(workload, changed, policy)
    return compare(policy, before, after, changes)

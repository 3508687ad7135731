"""The What-if page's site mode: the stored sites and workloads to choose from, and a request
naming a site (`WhatIfRequest.site`) replayed on the site as it is and as its change lines
make it, per policy (`hpc.site.whatif`). Pure logic, no Streamlit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from dashboard.scenario import GENERATED, Progress, ScenarioError, WhatIfRequest
from db.errors import NotFoundError
from db.session import transaction
from db.sites import list_sites, load_site, stored_site_workload
from db.store import Store
from db.workloads import list_workloads
from hpc.site.model import Site
from hpc.site.whatif import (
    SiteWhatIf,
    SiteWorkload,
    changed_site,
    compare,
    generated_site_workload,
    replay,
)


def site_choices(store: Store) -> list[str]:
    """Every stored version as NAME@VERSION, by name, the latest first."""
    with transaction(store.sessions) as session:
        sites = list_sites(session)
    return [f"{s.name}@{v}" for s in sites for v in range(s.version, 0, -1)]


def workload_choices(store: Store) -> dict[str, str]:
    """The workloads a site what-if may replay, by key: the generated one, then each stored
    one as workload:ID, with the words a picker shows."""
    with transaction(store.sessions) as session:
        stored = {f"workload:{w.id}": f"workload {w.id}: {w.name} ({w.job_count} jobs)"
                  for w in list_workloads(session)}  # fmt: skip
    return {GENERATED: "generated (jobs and seed below)", **stored}


def stored_site(store: Store, label: str) -> Site:
    """The site stored as `label` (NAME@VERSION); `ScenarioError` when there is none."""
    name, _, version = label.partition("@")
    try:
        with transaction(store.sessions) as session:
            return load_site(session, name, int(version))
    except NotFoundError as exc:
        raise ScenarioError(str(exc)) from None


def site_workload_for(
    store: Store, site: Site, workload: str, *, jobs: int, seed: int
) -> SiteWorkload:
    """A request's workload (`WhatIfRequest.workload`) cleaned for `site`: the generated one
    of `jobs` and `seed`, or a stored one (workload:ID)."""
    if workload == GENERATED:
        return generated_site_workload(jobs, seed, site)
    number = int(workload.removeprefix("workload:"))
    try:
        with transaction(store.sessions) as session:
            return stored_site_workload(session, number, site)
    except NotFoundError as exc:
        raise ScenarioError(str(exc)) from None


@dataclass(slots=True)
class SiteOutcome:
    """A site what-if's figures: one `SiteWhatIf` per policy of the request."""

    request: WhatIfRequest
    workload: str  # in words
    changes: tuple[str, ...]  # the lines applied, blank and comment lines left out
    results: list[SiteWhatIf]
    wall_s: float

    def partitions(self) -> list[dict[str, Any]]:
        """Per policy and partition: jobs, and started, waits and usage before and after."""
        return [{"policy": r.policy, **row} for r in self.results for row in r.partitions()]

    def overall(self) -> list[dict[str, Any]]:
        """Per policy, the site as it is and as changed: waits, slowdown, utilization..."""
        return [row for r in self.results for row in r.overall()]


def run_site_whatif(
    request: WhatIfRequest, site: Site, workload: SiteWorkload, progress: Progress | None = None
) -> SiteOutcome:
    """Replay `workload` on `site` and on it changed, under each policy of `request`.

    The change lines are read and applied first: a bad one raises `ChangeLineError` (naming
    its line and the grammar) before anything is replayed."""
    t0 = time.perf_counter()
    changed, changes = changed_site(site, request.changes)
    total = 2 * len(request.policies)
    results = []
    for k, policy in enumerate(request.policies):
        if progress:
            progress(2 * k, total, f"{policy} on the site as it is")
        before = replay(workload, site, policy)
        if progress:
            progress(2 * k + 1, total, f"{policy} on the changed site")
        results.append(compare(policy, before, replay(workload, changed, policy), changes))
    if progress:
        progress(total, total, "done")
    return SiteOutcome(request, workload.label, tuple(c.text for c in changes), results,
                       time.perf_counter() - t0)  # fmt: skip

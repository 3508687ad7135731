"""The site's own data for the What-if, Ask and Explain pages when the dashboard's source is
live Slurm: the newest history `schedsight slurm import` stored from the cluster, the site
`schedsight site import` stored from it, and the agent's workspace on them. Pure logic, no
Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.tools.workspace import Workspace
from db.session import transaction
from db.sites import load_site, site_of_cluster, stored_site_of_cluster, stored_site_workload
from db.store import Store
from db.workloads import get_workload, load_trace, newest_from
from hpc.model import Machine
from hpc.site.model import Site
from hpc.workload.cleaning import clean

IMPORT_HISTORY = "`schedsight slurm import`"
IMPORT_SITE = "`schedsight site import`"


@dataclass(frozen=True, slots=True)
class LiveHistory:
    """What is stored from live cluster `cluster`: its newest imported history and site."""

    cluster: str
    workload_id: int | None  # None: no history imported yet
    workload_label: str  # "workload 3 (slurm-dev-20261206), 412 jobs"
    site_label: str | None  # NAME@VERSION of its stored site; None: none stored

    @classmethod
    def of(cls, store: Store, cluster: str) -> LiveHistory:
        with transaction(store.sessions) as session:
            workload_id = newest_from(session, f"slurm:{cluster}:")
            label = ""
            if workload_id is not None:
                w = get_workload(session, workload_id=workload_id)
                label = f"workload {w.id} ({w.name}), {w.job_count} jobs"
            site = stored_site_of_cluster(session, cluster)
        site_label = None if site is None else f"{site.name}@{site.version}"
        return cls(cluster, workload_id, label, site_label)

    @property
    def workload_key(self) -> str:
        """The workload as a what-if request names it (`workload:ID`)."""
        return f"workload:{self.workload_id}"

    def missing(self, *, site: bool) -> str | None:
        """What a page needs but is not stored, and the command that stores it (None: all
        there); `site`: the page needs the stored site too."""
        lacking = []
        if self.workload_id is None:
            lacking.append(f"no history of {self.cluster} is imported: run {IMPORT_HISTORY}")
        if site and self.site_label is None:
            lacking.append(f"no site of {self.cluster} is stored: run {IMPORT_SITE}")
        return "; ".join(lacking) or None


def cluster_site(store: Store, cluster: str) -> Site | None:
    """The stored site of `cluster` (`schedsight site import`), if any."""
    with store.sessions() as session:
        return site_of_cluster(session, cluster)


def live_workspace(store: Store, history: LiveHistory, machine: Machine) -> Workspace:
    """The agent's workspace on the cluster's imported history, cleaned for `machine` (the
    live cluster's shape), with the stored site and the history cleaned for it, if any."""
    if history.workload_id is None:
        raise ValueError(history.missing(site=False))
    with transaction(store.sessions) as session:
        trace = load_trace(session, workload_id=history.workload_id)
        if history.site_label is None:
            site, site_jobs = None, None
        else:
            name, _, version = history.site_label.partition("@")
            site = load_site(session, name, int(version))
            site_jobs = stored_site_workload(session, history.workload_id, site)
    jobs, _ = clean(trace, machine=machine)
    return Workspace(jobs, machine, site=site, site_label=history.site_label or "",
                     site_workload=site_jobs)  # fmt: skip

"""A what-if on a stored site: its imported history replayed on the site as it is and with
the changes (`hpc.site.changes` grammar), per-partition figures for both; and the stored
site itself as the API shows it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.schemas import (
    NodeTypeBody,
    PartitionBody,
    SiteBody,
    WhatIf,
    WhatIfAnswer,
)
from db.errors import NotFoundError
from db.job_resources import load_job_resources
from db.sites import list_sites, load_site_version
from db.store import Store
from db.workloads import load_trace, newest_from
from hpc.sim.policy import Policy
from hpc.sim.site_engine import simulate_site
from hpc.sim.site_mapping import demand_from_trace
from hpc.site.changes import apply_changes, parse_change
from hpc.site.model import Site
from hpc.workload.loading import prepare_workload


def site_whatif(store: Store, question: WhatIf) -> WhatIfAnswer:
    """Replay the site's history before and after the changes (nothing is stored)."""
    changes = [parse_change(text) for text in question.changes]
    policy = Policy.parse(question.policy)
    with store.sessions() as session:
        version, site = load_site_version(session, question.site, question.version)
        workload = question.workload or _history_of(session, site)
        trace = load_trace(session, workload_id=workload)
        resources = load_job_resources(session, workload)
    changed = apply_changes(site, changes)
    # Cleaned for the site as it is, as `simulate --site` does: a job a change makes
    # impossible counts as never started instead of vanishing.
    loaded = prepare_workload(trace, procs=site.totals()["cores"])
    figures = []
    for replayed in (site, changed):
        demand = demand_from_trace(loaded.jobs, loaded.trace.header, replayed, resources)
        rows = simulate_site(loaded.jobs, replayed, policy, demand).partition_summary()
        figures.append(rows)
    return WhatIfAnswer(
        site=site.name,
        version=version,
        changes=[c.text for c in changes],
        policy=question.policy,
        workload=workload,
        before=figures[0],
        after=figures[1],
    )


def _history_of(session: Session, site: Site) -> int:
    kind, _, rest = site.source.partition(":")
    cluster = rest.partition(":")[0]
    found = newest_from(session, f"slurm:{cluster}:") if kind == "slurm" else None
    if found is None:
        raise NotFoundError(
            "workload",
            site.name,
            f"no history imported from site {site.name!r}'s cluster: run `schedsight slurm "
            "import`, or name a stored workload",
        )
    return found


def stored_site(store: Store, name: str | None, version: int | None) -> SiteBody:
    """A stored site (default: the newest stored), as the API shows it."""
    with store.sessions() as session:
        if name is None:
            stored = list_sites(session)
            if not stored:
                raise NotFoundError("site", "", "no site stored: run `schedsight site import`")
            name = max(stored, key=lambda s: s.created_at).name
        number, site = load_site_version(session, name, version)
    counts: dict[str, int] = {}
    for kind in site.nodes.values():
        counts[kind] = counts.get(kind, 0) + 1
    return SiteBody(
        name=site.name,
        version=number,
        release=site.release,
        source=site.source,
        node_types=[
            NodeTypeBody(
                name=t.name,
                count=counts.get(t.name, 0),
                cores=t.cores,
                mem_mb=t.mem_mb,
                gpus=t.gpus,
                gpu_type=t.gpu_type,
            )
            for t in site.node_types.values()
        ],
        partitions=[
            PartitionBody(
                name=p.name,
                nodes=list(p.nodes),
                max_time_s=p.max_time_s,
                default=p.default,
                state=p.state,
                priority_tier=p.priority_tier,
            )
            for p in site.partitions
        ],
        qos=sorted(site.qos),
    )

"""Versioned sites: each `schedsight site import` of a name stores a new version when the site
differs from the latest one, and reuses that version when it does not. A site is stored as
its JSON (`Site.to_json`), so a version is the data the simulator and a what-if read back;
a stored workload is read back for a site what-if with `stored_site_workload`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.errors import NotFoundError
from db.job_resources import load_job_resources
from db.models import SiteRow
from db.workloads import get_workload, load_trace
from hpc.site.model import Site
from hpc.site.whatif import SiteWorkload, site_workload


class SavedSite(NamedTuple):
    """Where `save_site` put a site: its row, its version, and whether that version is new."""

    id: int
    version: int
    created: bool


@dataclass(frozen=True, slots=True)
class StoredSite:
    """A name's latest version, for listings."""

    name: str
    version: int
    versions: int  # how many are stored
    created_at: datetime
    release: str
    source: str


def _canonical(data: Any) -> Any:
    """`data` as it reads back from the database (tuples become lists), for comparing."""
    return json.loads(json.dumps(data))


def _latest(session: Session, name: str) -> SiteRow | None:
    query = select(SiteRow).where(SiteRow.name == name).order_by(SiteRow.version.desc())
    return session.scalars(query.limit(1)).first()


def save_site(session: Session, site: Site) -> SavedSite:
    """Store `site` under its name: a new version if it differs from the latest stored one,
    else the latest one again (`created` False)."""
    data = _canonical(site.to_json())
    latest = _latest(session, site.name)
    if latest is not None and latest.data == data:
        return SavedSite(latest.id, latest.version, created=False)
    row = SiteRow(
        name=site.name,
        version=1 if latest is None else latest.version + 1,
        source=site.source,
        release=site.release,
        data=data,
    )
    session.add(row)
    session.flush()
    return SavedSite(row.id, row.version, created=True)


def load_site(session: Session, name: str, version: int | None = None) -> Site:
    """The stored site `name`, its latest version or `version`."""
    return load_site_version(session, name, version)[1]


def load_site_version(session: Session, name: str, version: int | None = None) -> tuple[int, Site]:
    """The version number (the latest where `version` is None) and the site stored as it."""
    if version is None:
        row = _latest(session, name)
    else:
        query = select(SiteRow).where(SiteRow.name == name, SiteRow.version == version)
        row = session.scalars(query).first()
    if row is not None:
        return row.version, Site.from_json(row.data)
    versions = list(session.scalars(select(SiteRow.version).where(SiteRow.name == name)))
    if versions:
        have = f"it has {min(versions)} to {max(versions)}"
        message = f"site {name!r} has no version {version} ({have})"
        raise NotFoundError("site", f"{name} version {version}", message)
    known = ", ".join(s.name for s in list_sites(session)) or "none yet"
    raise NotFoundError(
        "site",
        name,
        f"no site named {name!r} is stored (stored: {known}); "
        "read one from Slurm with `schedsight site import`",
    )


def list_sites(session: Session) -> list[StoredSite]:
    """Each stored name with its latest version, by name."""
    counts = select(SiteRow.name, func.max(SiteRow.version), func.count()).group_by(SiteRow.name)
    latest = {name: (top, count) for name, top, count in session.execute(counts)}
    rows = session.execute(
        select(SiteRow.name, SiteRow.version, SiteRow.created_at, SiteRow.release, SiteRow.source)
        .where(SiteRow.name.in_(latest))
        .order_by(SiteRow.name)
    )
    return [
        StoredSite(name, version, latest[name][1], created_at, release, source)
        for name, version, created_at, release, source in rows
        if version == latest[name][0]
    ]


def stored_site_workload(session: Session, workload_id: int, site: Site) -> SiteWorkload:
    """A stored workload cleaned for `site`, with the GPUs, accounts and QOS a Slurm import
    kept beside it (`schedsight slurm import`)."""
    name = get_workload(session, workload_id=workload_id).name
    trace = load_trace(session, workload_id=workload_id)
    resources = load_job_resources(session, workload_id)
    return site_workload(trace, site, f"workload {workload_id} ({name})", resources)


def stored_site_of_cluster(session: Session, cluster: str) -> StoredSite | None:
    """The stored site read from Slurm cluster `cluster` (`site import`), its latest version:
    the one named after it, else the newest read from it; None when none is stored."""
    stored = [s for s in list_sites(session) if s.source.startswith(f"slurm:{cluster}:")]
    if not stored:
        return None
    named = [s for s in stored if s.name == cluster]
    return named[0] if named else max(stored, key=lambda s: s.created_at)


def site_of_cluster(session: Session, cluster: str) -> Site | None:
    """The site `stored_site_of_cluster` names, loaded; None when none is stored."""
    found = stored_site_of_cluster(session, cluster)
    return None if found is None else load_site(session, found.name, found.version)

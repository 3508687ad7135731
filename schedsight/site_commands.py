"""`schedsight site import|show|list`: the site twin, read from Slurm and stored in versions.

Wiring only: `hpc.slurm.site_reader` reads the site through the Slurm command-line tools
(with the settings' command prefix and cluster), `db.sites` keeps its versions. The
domain and the database load when a command runs, not when the parser is built.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from schedsight.arguments import cluster_name
from schedsight.slurm_commands import say_retry
from schedsight.tables import format_duration, format_table
from schedsight.wiring import wiring_of

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hpc.site.model import PriorityWeights, Site

T = TypeVar("T")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    site = sub.add_parser("site", help="the site twin: read a Slurm site, store and show versions")
    cmds = site.add_subparsers(dest="site_command", required=True)

    imp = cmds.add_parser(
        "import", help="read nodes, partitions, QOS, priorities... from Slurm; store a version"
    )
    imp.add_argument("--name", type=site_name, help="the site's name (default: the cluster's)")
    imp.add_argument(
        "--backend",
        choices=["cli"],
        default="cli",
        help="a site is read through the Slurm command-line tools (scontrol, sacctmgr), with "
        "SCHEDSIGHT_SLURM_COMMAND_PREFIX, whatever SCHEDSIGHT_SLURM_BACKEND says",
    )
    imp.add_argument(
        "--cluster",
        type=cluster_name,
        help="one cluster of a multi-cluster site (default: SCHEDSIGHT_SLURM_CLUSTER, local)",
    )
    imp.set_defaults(run=cmd_import)

    show = cmds.add_parser("show", help="a stored site: its partitions, limits and priorities")
    show.add_argument("name", type=site_name)
    show.add_argument("--version", type=_version, help="a stored version (default: the latest)")
    show.add_argument("--json", action="store_true", help="the whole site as JSON on stdout")
    show.set_defaults(run=cmd_show)

    listing = cmds.add_parser("list", help="stored sites, each with its latest version")
    listing.set_defaults(run=cmd_list)


def site_name(text: str) -> str:
    """A site's name: letters, digits and `_.-`, at most 128 characters."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a site name (letters, digits and _.-, at most 128)"
        )
    return text


def _version(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) < 2**31:
        raise argparse.ArgumentTypeError(f"{text!r} is not a version number (1, 2, ...)")
    return int(text)


def _warn(message: str) -> None:
    print(f"schedsight: warning: {message}", file=sys.stderr)


# ---------------------------------------------------------------- import
def cmd_import(args: argparse.Namespace) -> int:
    from db.session import transaction
    from db.sites import save_site
    from hpc.slurm.retry import with_retry
    from hpc.slurm.site_reader import read_site

    wiring = wiring_of(args)
    store = wiring.open_store()  # fail early on a stale schema
    if wiring.settings.slurm_backend != "cli":
        _warn(
            f"SCHEDSIGHT_SLURM_BACKEND is {wiring.settings.slurm_backend}, but a site is read "
            "through the Slurm command-line tools (scontrol, sacctmgr)"
        )
    backend = wiring.slurm_cli(cluster=args.cluster)
    site = with_retry(
        lambda: read_site(backend, name=args.name, on_warning=_warn),
        wiring.backoff(),
        what="reading the site",
        on_retry=say_retry,
    )
    with transaction(store.sessions) as session:
        saved = save_site(session, site)
    how = "stored site" if saved.created else "unchanged: site"
    print(f"{how} {site.name} version {saved.version} (Slurm {site.release}, {site.source})")
    _print_site(site)
    return 0


# ---------------------------------------------------------------- show / list
def _stored(args: argparse.Namespace, read: Callable[[Session], T]) -> T:
    """`read` in one transaction on the configured database."""
    from db.session import transaction

    with transaction(wiring_of(args).open_store().sessions) as session:
        return read(session)


def cmd_show(args: argparse.Namespace) -> int:
    from db.sites import load_site_version

    version, site = _stored(args, lambda s: load_site_version(s, args.name, args.version))
    if args.json:
        print(json.dumps({"version": version, **site.to_json()}, indent=2))
        return 0
    print(f"site {site.name} version {version} (Slurm {site.release or '-'}, {site.source})")
    _print_site(site)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from db.sites import list_sites

    sites = _stored(args, list_sites)
    if not sites:
        print("no sites stored yet: read one from Slurm with `schedsight site import`")
        return 0
    rows = [
        [s.name, str(s.version), str(s.versions), s.release or "-", s.source,
         _local(s.created_at)]
        for s in sites
    ]  # fmt: skip
    print(format_table(["site", "latest", "versions", "Slurm", "source", "stored"], rows))
    return 0


def _local(at: datetime) -> str:
    """A stored time in this machine's zone (SQLite gives back UTC without a zone)."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone().strftime("%Y-%m-%d %H:%M")


# ---------------------------------------------------------------- what a site says
def _print_site(site: Site) -> None:
    for line in site.describe():
        print(f"  {line}")
    t = site.totals()
    print(
        f"total: {t['nodes']} nodes of {len(site.node_types)} type(s), {t['cores']} cores, "
        f"{t['mem_mb'] // 1024} GB memory, {t['gpus']} GPUs"
    )
    accounts = {a.account for a in site.associations if a.user is None}
    maintenance = sum(r.maintenance for r in site.reservations)
    print(
        f"QOS: {len(site.qos)} ({', '.join(site.qos) or 'none read'}); associations: "
        f"{len(site.associations)} in {len(accounts)} accounts; reservations: "
        f"{len(site.reservations)} ({maintenance} maintenance); switches: {len(site.switches)}"
    )
    if site.associations:
        print(f"fair-share usage: {_usage(site)}")
    print(f"priority: {_weights(site.weights)}")
    b = site.backfill
    print(
        f"backfill: window {format_duration(b.window_s)}, resolution {b.resolution_s} s, "
        f"max job test {b.max_job_test}, interval {b.interval_s} s"
    )


def _usage(site: Site) -> str:
    users = [a for a in site.associations if a.user is not None and a.raw_usage is not None]
    if not users:
        return "not read (a replay's fair-share starts from zero)"
    hours = sum(a.raw_usage or 0.0 for a in users) / 3600
    return f"{hours:,.1f} core-hours (decayed) over {len(users)} user associations (sshare)"


def _weights(w: PriorityWeights) -> str:
    if not w.multifactor:
        return "no multifactor weights (jobs start in submit order, within partition tiers)"
    tres = ",".join(f"{k}={v}" for k, v in w.tres.items()) or "-"
    return (
        f"multifactor: age {w.age}, fairshare {w.fairshare}, job size {w.job_size}, "
        f"partition {w.partition}, QOS {w.qos}, TRES {tres}; max age "
        f"{format_duration(w.max_age_s)}, half-life {format_duration(w.decay_half_life_s)}"
        + (", favor small" if w.favor_small else "")
    )

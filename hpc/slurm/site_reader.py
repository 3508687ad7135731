"""A live Slurm site read into a `hpc.site.model.Site`: what `schedsight site import` stores.

Through the cli backend's command runner, so its prefix (`chroot /var/lib/slurm-trixie`,
`ssh login1`) and `--cluster` apply to every command. The controller must answer; slurmdbd
need not: without it the site has no QOS and no associations, and `on_warning` says why.
The associations carry sshare's usage where sshare answers; where it does not, a replay's
fair-share starts from zero, and `on_warning` says that in one line.
"""

from __future__ import annotations

from collections.abc import Callable

from hpc.site.model import Association, QosSpec, Site, Switch
from hpc.slurm.cli_backend import CliBackend
from hpc.slurm.errors import ControllerUnreachableError, SlurmCommandError
from hpc.slurm.site_text import (
    ASSOC_FORMAT,
    QOS_FORMAT,
    parse_associations,
    parse_backfill,
    parse_config,
    parse_nodes,
    parse_partition_specs,
    parse_qos,
    parse_reservations,
    parse_scheduling,
    parse_switches,
    parse_weights,
)
from hpc.slurm.sshare_text import SSHARE_FORMAT, parse_sshare, with_usage

Warn = Callable[[str], None]


def _quiet(_message: str) -> None:
    """The default `on_warning`: say nothing."""


def read_site(backend: CliBackend, *, name: str | None = None, on_warning: Warn = _quiet) -> Site:
    """The site `backend` reaches: nodes grouped into types, partitions, QOS, the fair-share
    tree, reservations, priority weights, backfill parameters and switches. `name` defaults
    to the cluster's name."""
    config = parse_config(backend.text(["scontrol", "show", "config"]))
    cluster = backend.cluster or config.get("ClusterName") or "unknown"
    nodes = parse_nodes(backend.text(["scontrol", "--all", "-o", "show", "node"]))
    partitions = parse_partition_specs(
        backend.text(["scontrol", "--all", "-o", "show", "partition"]), tuple(nodes)
    )
    qos, associations = _accounting(backend, cluster, on_warning)
    return Site(
        name=name or cluster,
        node_types={t.name: t for t in nodes.values()},
        nodes={node: t.name for node, t in nodes.items()},
        partitions=partitions,
        qos=qos,
        associations=associations,
        reservations=parse_reservations(backend.text(["scontrol", "-o", "show", "reservation"])),
        weights=parse_weights(config),
        backfill=parse_backfill(config.get("SchedulerParameters", "")),
        switches=_switches(backend, on_warning),
        scheduling=parse_scheduling(config),
        release=config.get("SLURM_VERSION", ""),
        source=f"slurm:{cluster}:{backend.name}",
    )


def _switches(backend: CliBackend, on_warning: Warn) -> tuple[Switch, ...]:
    try:
        return parse_switches(backend.text(["scontrol", "show", "topology"]))
    except SlurmCommandError as exc:  # no topology plugin: some releases exit 1
        if "no topology" not in str(exc).lower():
            on_warning(f"no switch tree read ({exc})")
        return ()


def _accounting(
    backend: CliBackend, cluster: str, on_warning: Warn
) -> tuple[dict[str, QosSpec], tuple[Association, ...]]:
    """QOS (shared by every cluster of a slurmdbd) and this cluster's associations."""
    try:
        qos = backend.text(["sacctmgr", "-P", "-n", "show", "qos", f"format={QOS_FORMAT}"])
        assoc = backend.text(
            [
                "sacctmgr",
                "-P",
                "-n",
                "show",
                "assoc",
                f"cluster={cluster}",
                f"format={ASSOC_FORMAT}",
            ]
        )
    except (SlurmCommandError, ControllerUnreachableError) as exc:
        on_warning(
            f"no QOS or associations: slurmdbd did not answer ({exc}); a replay's fair-share "
            "starts from zero"
        )
        return {}, ()
    return parse_qos(qos), _usage(backend, parse_associations(assoc), on_warning)


def _usage(
    backend: CliBackend, associations: tuple[Association, ...], on_warning: Warn
) -> tuple[Association, ...]:
    """The associations with the usage and normalised shares sshare reports."""
    if not associations:
        return associations
    argv = ["sshare", "-a", "-P", "-n", "-o", SSHARE_FORMAT]
    if backend.cluster:
        argv.append(f"--clusters={backend.cluster}")
    try:
        text = backend.text(argv)
    except (SlurmCommandError, ControllerUnreachableError) as exc:
        on_warning(
            f"no fair-share usage: sshare failed ({exc}); a replay's fair-share starts from zero"
        )
        return associations
    return with_usage(associations, parse_sshare(text))

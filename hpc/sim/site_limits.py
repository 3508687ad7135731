"""QOS and partition limits during a site replay, and the pending reasons they give.

A job that breaks a limit only while others run (MaxTRESPerUser, MaxTRESPerAccount,
GrpTRES, MaxJobsPerUser) waits with Slurm's reason and holds no backfill reservation; one
that can never run (more than the partition's or QOS's time limit, more than the partition
has) never starts, with its reason recorded, as Slurm leaves such a job pending.

A job's TRES are read from its `Want` (nodes, cores, GPUs, memory; 0 nodes counts as one);
each QOS's limits are compiled once into (position, limit, reason) triples, so a check is a
few integer comparisons.
"""

from __future__ import annotations

from collections.abc import Mapping

from hpc.sim.site_nodes import Ints, Want, ints
from hpc.site.model import QosSpec, Site

# Reasons, as Slurm spells them (squeue %r).
RESOURCES = "Resources"
PRIORITY = "Priority"
PARTITION_TIME = "PartitionTimeLimit"
PARTITION_SIZE = "PartitionConfig"  # more than the partition could ever give
QOS_WALL = "QOSMaxWallDurationPerJobLimit"
RESERVED = "ReqNodeNotAvail, Reserved for maintenance"

TRES_KINDS = ("node", "cpu", "gres/gpu", "mem")  # the TRES a job asks for, in `Want` order
_TRES_NAMES = {"cpu": "Cpu", "gres/gpu": "GRES", "node": "Node", "mem": "Mem"}
Limits = tuple[tuple[int, int, str], ...]  # (position in Want, limit, reason)
Compiled = tuple[int | None, Limits, Limits, Limits]  # jobs per user, per user, account, grp


def _compile(limits: Mapping[str, int], reason: str) -> Limits:
    """The limits on TRES a job can ask for (others never bind), in the spec's order."""
    return tuple(
        (TRES_KINDS.index(kind), limit, reason.format(_TRES_NAMES[kind]))
        for kind, limit in limits.items()
        if kind in TRES_KINDS
    )


class QosUsage:
    """What running jobs hold per (QOS, user), (QOS, account) and QOS, in TRES terms.

    The replay numbers its (QOS, user) pairs (`number_pairs`); the per-user usage is kept
    by that number, read by index, not hashed by key."""

    def __init__(self, site: Site, qos_names: tuple[str, ...]) -> None:
        # Limits a site does not enforce hold nobody back (AccountingStorageEnforce).
        enforced = site.scheduling.limits_enforced
        self.specs: list[QosSpec | None] = [site.qos.get(q) if enforced else None
                                            for q in qos_names]  # fmt: skip
        self.compiled: list[Compiled | None] = [
            None if spec is None else _compile_spec(spec) for spec in self.specs
        ]
        # Per (QOS, user) pair p: nodes, cores, GPUs, memory held at 4p .. 4p + 3; jobs running.
        self.per_user: Ints = ints(())
        self.jobs_per_user: Ints = ints(())
        self.per_account: dict[tuple[int, int], list[int]] = {}
        self.grp: dict[tuple[int, int], list[int]] = {}  # keyed (QOS, -1)
        # QOS whose limits all read the user's own usage (jobs and TRES per user): a job's
        # verdict then changes only when a job of the same (QOS, user) is charged (the
        # replay counts those charges per pair).
        self.user_keyed = [c is not None and not c[2] and not c[3] for c in self.compiled]

    def number_pairs(self, count: int) -> None:
        """Make room for `count` (QOS, user) pairs, numbered 0 to count - 1."""
        self.per_user = ints([0] * 4 * count)
        self.jobs_per_user = ints([0] * count)

    def blocked(self, qos: int, pair: int, account: int, want: Want) -> str | None:
        """Slurm's reason if starting a job asking `want` now would break a limit, else None
        (`pair`: the number of the job's (QOS, user))."""
        compiled = self.compiled[qos] if qos >= 0 else None
        if compiled is None:
            return None
        max_jobs, per_user, per_account, grp = compiled
        if max_jobs is not None and self.jobs_per_user[pair] >= max_jobs:
            return "QOSMaxJobsPerUserLimit"
        # Each table's limits in order; the first that `want` on top of its usage breaks.
        if per_user:
            used = self.per_user
            for k, limit, reason in per_user:
                if used[4 * pair + k] + (want[k] if k else want[0] or 1) > limit:
                    return reason
        if per_account:
            held = self.per_account.get((qos, account))
            for k, limit, reason in per_account:
                if (held[k] if held else 0) + (want[k] if k else want[0] or 1) > limit:
                    return reason
        if grp:
            held = self.grp.get((qos, -1))
            for k, limit, reason in grp:
                if (held[k] if held else 0) + (want[k] if k else want[0] or 1) > limit:
                    return reason
        return None

    def charge(self, qos: int, pair: int, account: int, want: Want, sign: int) -> None:
        """A job asking `want` starts (sign 1) or ends (sign -1). Only the usage that a limit
        of its QOS reads is kept: `blocked` never looks at the rest."""
        compiled = self.compiled[qos] if qos >= 0 else None
        if compiled is None:
            return
        max_jobs, per_user, per_account, grp = compiled
        if per_user:
            used = self.per_user
            at = 4 * pair
            used[at] += sign * (want[0] or 1)
            used[at + 1] += sign * want[1]
            used[at + 2] += sign * want[2]
            used[at + 3] += sign * want[3]
        if per_account or grp:
            amounts = (sign * (want[0] or 1), sign * want[1], sign * want[2], sign * want[3])
            if per_account:
                _add(self.per_account, (qos, account), amounts)
            if grp:
                _add(self.grp, (qos, -1), amounts)
        if max_jobs is not None:
            self.jobs_per_user[pair] += sign


def _compile_spec(spec: QosSpec) -> Compiled | None:
    """A QOS's limits as `blocked` reads them; None when it has none that a job can break."""
    compiled = (
        spec.max_jobs_per_user,
        _compile(spec.max_tres_per_user, "QOSMax{}PerUserLimit"),
        _compile(spec.max_tres_per_account, "QOSMax{}PerAccountLimit"),
        _compile(spec.grp_tres, "QOSGrp{}Limit"),
    )
    return compiled if compiled[0] is not None or any(compiled[1:]) else None


def _add(table: dict[tuple[int, int], list[int]], key: tuple[int, int], amounts: Want) -> None:
    held = table.get(key)
    if held is None:
        held = table[key] = [0, 0, 0, 0]
    held[0] += amounts[0]
    held[1] += amounts[1]
    held[2] += amounts[2]
    held[3] += amounts[3]

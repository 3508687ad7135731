"""QOS and partition limits during a site replay, and the pending reasons they give.

A job that breaks a limit only while others run (MaxTRESPerUser, MaxTRESPerAccount,
GrpTRES, MaxJobsPerUser) waits with Slurm's reason and holds no backfill reservation; one
that can never run (more than the partition's or QOS's time limit, more than the partition
has) never starts, with its reason recorded, as Slurm leaves such a job pending.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from hpc.site.model import QosSpec, Site

# Reasons, as Slurm spells them (squeue %r).
RESOURCES = "Resources"
PRIORITY = "Priority"
PARTITION_TIME = "PartitionTimeLimit"
PARTITION_SIZE = "PartitionConfig"  # more than the partition could ever give
QOS_WALL = "QOSMaxWallDurationPerJobLimit"
RESERVED = "ReqNodeNotAvail, Reserved for maintenance"


_TRES_NAMES = {"cpu": "Cpu", "gres/gpu": "GRES", "node": "Node", "mem": "Mem"}


class QosUsage:
    """What running jobs hold per (QOS, user), (QOS, account) and QOS, in TRES terms."""

    def __init__(self, site: Site, qos_names: tuple[str, ...]) -> None:
        self.specs: list[QosSpec | None] = [site.qos.get(q) for q in qos_names]
        self.per_user: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.per_account: dict[tuple[int, int], dict[str, int]] = defaultdict(
            lambda: defaultdict(int)
        )
        self.grp: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.jobs_per_user: dict[tuple[int, int], int] = defaultdict(int)

    def blocked(self, qos: int, user: int, account: int, tres: Mapping[str, int]) -> str | None:
        """Slurm's reason if starting a job with `tres` now would break a limit, else None."""
        spec = self.specs[qos] if qos >= 0 else None
        if spec is None:
            return None
        if (
            spec.max_jobs_per_user is not None
            and self.jobs_per_user[(qos, user)] >= spec.max_jobs_per_user
        ):
            return "QOSMaxJobsPerUserLimit"
        checks = (
            (spec.max_tres_per_user, self.per_user[(qos, user)], "QOSMax{}PerUserLimit"),
            (
                spec.max_tres_per_account,
                self.per_account[(qos, account)],
                "QOSMax{}PerAccountLimit",
            ),
            (spec.grp_tres, self.grp[qos], "QOSGrp{}Limit"),
        )
        for limits, held, reason in checks:
            for kind, limit in limits.items():
                if kind in tres and held[kind] + tres[kind] > limit:
                    return reason.format(_TRES_NAMES.get(kind, kind))
        return None

    def charge(self, qos: int, user: int, account: int, tres: Mapping[str, int], sign: int) -> None:
        if qos < 0 or self.specs[qos] is None:
            return
        for kind, amount in tres.items():
            self.per_user[(qos, user)][kind] += sign * amount
            self.per_account[(qos, account)][kind] += sign * amount
            self.grp[qos][kind] += sign * amount
        self.jobs_per_user[(qos, user)] += sign

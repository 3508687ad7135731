"""The remit: the accounts and partitions schedsight may act on. Everything else is refused.

An empty remit refuses everything (the safe default): configure it with
SCHEDSIGHT_SLURM_ACCOUNTS and SCHEDSIGHT_SLURM_PARTITIONS.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hpc.slurm.errors import RemitError
from hpc.slurm.spec import JobSpec
from hpc.slurm.state import LiveJob

_HOW = "set SCHEDSIGHT_SLURM_ACCOUNTS and SCHEDSIGHT_SLURM_PARTITIONS (comma-separated)"


@dataclass(frozen=True, slots=True)
class Remit:
    accounts: frozenset[str]
    partitions: frozenset[str]

    @classmethod
    def of(cls, accounts: Iterable[str], partitions: Iterable[str]) -> Remit:
        return cls(frozenset(accounts), frozenset(partitions))

    def _check(self, what: str, account: str | None, partition: str | None) -> None:
        if not self.accounts or not self.partitions:
            raise RemitError(f"refused {what}: no remit is configured; {_HOW}")
        if account not in self.accounts:
            raise RemitError(
                f"refused {what}: account {account or '(default)'!r} is outside the remit "
                f"(accounts {', '.join(sorted(self.accounts))})"
            )
        # A job may name several partitions ("batch,gpu"): all must be in the remit.
        names = (partition or "").split(",")
        outside = [p for p in names if p not in self.partitions]
        if outside:
            raise RemitError(
                f"refused {what}: partition {outside[0] or '(default)'!r} is outside the remit "
                f"(partitions {', '.join(sorted(self.partitions))})"
            )

    def check_job(self, job: LiveJob) -> None:
        self._check(f"job {job.display_id}", job.account, job.partition)

    def check_spec(self, spec: JobSpec) -> None:
        self._check(f"submitting {spec.name!r}", spec.account, spec.partition)

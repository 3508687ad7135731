"""The remit: the accounts and partitions schedsight (and its agent) may act on. Everything
else is refused.

An empty remit allows nothing (the safe default): configure it with
SCHEDSIGHT_SLURM_ACCOUNTS and SCHEDSIGHT_SLURM_PARTITIONS. "Any account" or "any partition"
must be said outright (`any_account`, `any_partition`, `Remit.everything()`), never implied.
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
    """Accounts and partitions that may be acted on; for the agent's simulated workloads,
    accounts are user ids and partitions partition numbers, as text."""

    accounts: frozenset[str] = frozenset()
    partitions: frozenset[str] = frozenset()
    any_account: bool = False  # True: every account, whatever `accounts` holds
    any_partition: bool = False

    @classmethod
    def of(cls, accounts: Iterable[str], partitions: Iterable[str]) -> Remit:
        return cls(frozenset(accounts), frozenset(partitions))

    @classmethod
    def everything(cls) -> Remit:
        """Every account and every partition (a simulation's own scheduler, say)."""
        return cls(any_account=True, any_partition=True)

    def refusal(self, what: str, account: str | None, partition: str | None) -> str | None:
        """Why acting on `what` is refused, or None when the remit covers it."""
        if (not self.accounts and not self.any_account) or (
            not self.partitions and not self.any_partition
        ):
            return f"refused {what}: no remit is configured; {_HOW}"
        if not self.any_account and account not in self.accounts:
            return (
                f"refused {what}: account {account or '(default)'!r} is outside the remit "
                f"(accounts {', '.join(sorted(self.accounts))})"
            )
        # A job may name several partitions ("batch,gpu"): all must be in the remit.
        names = (partition or "").split(",")
        outside = [p for p in names if p not in self.partitions]
        if not self.any_partition and outside:
            return (
                f"refused {what}: partition {outside[0] or '(default)'!r} is outside the remit "
                f"(partitions {', '.join(sorted(self.partitions))})"
            )
        return None

    def covers(self, account: str | None, partition: str | None) -> bool:
        return self.refusal("", account, partition) is None

    def _check(self, what: str, account: str | None, partition: str | None) -> None:
        reason = self.refusal(what, account, partition)
        if reason is not None:
            raise RemitError(reason)

    def check_job(self, job: LiveJob) -> None:
        self._check(f"job {job.display_id}", job.account, job.partition)

    def check_spec(self, spec: JobSpec) -> None:
        self._check(f"submitting {spec.name!r}", spec.account, spec.partition)

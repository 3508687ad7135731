"""The one interface every way of talking to Slurm implements, and what it answers with.

Backends are thin and stateless about decisions: remit checks, retries, idempotent submit
and the audit trail live in `hpc.slurm.actions`, above any backend.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from hpc.slurm.accounting import AccountingRecord
from hpc.slurm.job_action import Action
from hpc.slurm.spec import JobSpec
from hpc.slurm.state import ClusterState, LiveJob


@dataclass(frozen=True, slots=True)
class StartEstimate:
    """Slurm's own idea of when a job starts (seconds since the epoch) and where."""

    start_s: int | None
    source: str  # "test-only" (sbatch --test-only) or "planned" (a pending job's start)
    job_id: int | None = None
    nodes: str = ""
    partition: str = ""
    cpus: int | None = None


@runtime_checkable
class SlurmBackend(Protocol):
    """Read, import, submit, act and estimate. Errors are `SlurmError`s; an unreachable
    daemon is `ControllerUnreachableError` (the caller decides whether to retry)."""

    name: str

    def cluster_state(self) -> ClusterState:
        """Nodes, partitions and the controller's jobs in one snapshot."""
        ...

    def jobs(self, job_ids: Collection[int] | None = None) -> list[LiveJob]:
        """The controller's jobs (all, or those ids; array tasks by their own ids)."""
        ...

    def history(
        self, *, start_s: int, end_s: int | None = None, job_ids: Collection[int] | None = None
    ) -> list[AccountingRecord]:
        """Accounting records of jobs that ran or ended in [start_s, end_s]."""
        ...

    def submit(self, spec: JobSpec, *, comment: str) -> int:
        """Submit once (no lookup, no retry) with `comment` as stored; the new job id."""
        ...

    def apply(self, job_id: int, action: Action) -> None:
        """Send one change (hold, release, nice, priority, begin, dependency)."""
        ...

    def test_only(self, spec: JobSpec) -> StartEstimate:
        """Slurm's start estimate for `spec` without submitting it."""
        ...

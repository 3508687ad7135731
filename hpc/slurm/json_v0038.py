"""Slurm 22.05's JSON: `squeue/sinfo/sacct --json` and slurmrestd v0.0.38 / dbv0.0.38.

The CLI and slurmrestd share one data parser in 22.05, so one adapter reads both. Its
quirks, each handled here or by the caller and tested against recorded output:
- `squeue --json` / `sinfo --json` ignore their filters: callers filter client-side;
- `exit_code` in squeue is a raw wait status (exit 3 -> 768, SIGKILL -> 9): decoded here;
- sacct (and dbv0.0.38) report a FAILED job's non-zero exit as SUCCESS/0: such a code is
  returned as None (unknown) rather than a wrong 0, for the caller to fill in;
- sacct's comment is an object {administrator, job, system}; squeue's is a string;
- slurmdbd stores a job *name* with every `"` turned into a backquote (comments are kept
  exactly): accounting names are lossy, the controller's (squeue, REST) are exact.
- the CLI has no JSON for partitions (`scontrol show partition` is read as text).
"""

from __future__ import annotations

from typing import Any

from hpc.slurm.accounting import AccountingRecord
from hpc.slurm.json_common import Json, controllers_up, num, release
from hpc.slurm.json_documents import read_accounting, read_jobs, read_nodes, read_partitions
from hpc.slurm.state import LiveJob, Node, Partition

DATA_VERSION = "v0.0.38"
__all__ = ["controllers_up", "parse_accounting", "parse_jobs", "parse_nodes",
           "parse_partitions", "release"]  # fmt: skip


def wait_status(raw: Any) -> tuple[int | None, int | None]:
    """(exit code, signal) from a raw wait status (768 -> exit 3; 9 -> SIGKILL)."""
    status = num(raw)
    if status is None:
        return None, None
    if status & 0x7F:
        return None, status & 0x7F
    return (status >> 8) & 0xFF, None


def _queue_exit(j: Json, state: str) -> tuple[int | None, int | None]:
    return wait_status(j.get("exit_code"))


def _accounting_exit(j: Json, state: str) -> tuple[int | None, int | None]:
    code = j.get("exit_code") or {}
    status = code.get("status")
    if status == "SIGNALED":
        return None, num((code.get("signal") or {}).get("signal_id"))
    rc = num(code.get("return_code"))
    if state == "FAILED" and status == "SUCCESS" and not rc:
        return None, None  # 22.05 bug: a failed job's exit code reads 0; unknown here
    return rc, None


def parse_jobs(doc: Json) -> list[LiveJob]:
    """Jobs from `squeue --json` or GET /slurm/v0.0.38/jobs (every job; filter yourself)."""
    return read_jobs(doc, _queue_exit)


def parse_nodes(doc: Json) -> list[Node]:
    """Nodes from `sinfo --json` or GET /slurm/v0.0.38/nodes (every node; filter yourself)."""
    return read_nodes(doc)


def parse_partitions(doc: Json) -> list[Partition]:
    """Partitions from GET /slurm/v0.0.38/partitions (the CLI has no JSON for them in 22.05)."""
    return read_partitions(doc)


def parse_accounting(doc: Json) -> list[AccountingRecord]:
    """Finished and running jobs from `sacct --json` or GET /slurmdb/v0.0.38/jobs."""
    return read_accounting(doc, _accounting_exit)

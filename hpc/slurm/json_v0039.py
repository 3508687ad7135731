"""Slurm 23.02 to 26.05's JSON: data_parser v0.0.39 to v0.0.45, from the CLI (`squeue`,
`sacct`, `scontrol --json`) and from slurmrestd alike.

These versions share the shapes schedsight reads (checked on recordings of every one of
them, tests/hpc/slurm/data/releases): numbers are objects {set, infinite, number}, states
are lists of flags, exit codes are objects {status, return_code, signal}, `meta.slurm`
(lower case from 23.11). What differs from 22.05 in meaning:
- the exit code is an object; from 23.11 a failed job's code is right (23.02 still writes
  SUCCESS/0 for it, read as unknown), and only 23.02's queue gives a raw wait status;
- `squeue` honours its filters (-j, -u, -t, -p) and hides finished jobs unless asked;
- `sinfo --json` lists node *groups* from 23.11: nodes come from `scontrol --json show nodes`;
- partitions have JSON (`scontrol --json show partition`), but a default flag only from 26.05.
"""

from __future__ import annotations

from collections.abc import Mapping

from hpc.slurm.accounting import AccountingRecord
from hpc.slurm.json_common import Json, controllers_up, num, release
from hpc.slurm.json_documents import read_accounting, read_jobs, read_nodes, read_partitions
from hpc.slurm.json_v0038 import wait_status
from hpc.slurm.state import LiveJob, Node, Partition

__all__ = ["controllers_up", "parse_accounting", "parse_jobs", "parse_nodes",
           "parse_partitions", "release"]  # fmt: skip


def process_exit(j: Json, state: str) -> tuple[int | None, int | None]:
    """(exit code, signal) from {status: [..], return_code, signal: {id, name}}; 23.02's
    queue may still give a plain wait status."""
    code = j.get("exit_code")
    if not isinstance(code, Mapping) or "status" not in code:
        return wait_status(code)
    status = code.get("status")
    flags = {str(s).upper() for s in (status if isinstance(status, list) else [status])}
    if flags & {"SIGNALED", "CORE_DUMPED"}:
        signal = code.get("signal") or {}
        return None, num(signal.get("id", signal.get("signal_id")))
    if flags & {"PENDING", "INVALID"}:
        return None, None
    rc = num(code.get("return_code"))
    if state == "FAILED" and flags == {"SUCCESS"} and not rc:
        return None, None  # 23.02 writes SUCCESS/0 for any normal exit, as 22.05 did
    return rc, None


def parse_jobs(doc: Json) -> list[LiveJob]:
    """Jobs from `squeue --json` or GET /slurm/VERSION/jobs (filtered as asked)."""
    return read_jobs(doc, process_exit)


def parse_nodes(doc: Json) -> list[Node]:
    """Nodes from `scontrol --json show nodes` or GET /slurm/VERSION/nodes."""
    return read_nodes(doc)


def parse_partitions(doc: Json) -> list[Partition]:
    """Partitions from `scontrol --json show partition` or GET /slurm/VERSION/partitions."""
    return read_partitions(doc)


def parse_accounting(doc: Json) -> list[AccountingRecord]:
    """Jobs from `sacct --json` or GET /slurmdb/VERSION/jobs."""
    return read_accounting(doc, process_exit)

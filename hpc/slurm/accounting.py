"""Finished jobs from Slurm's accounting (slurmdbd), and how they become an SWF workload.

A record keeps what the predictors learn from: the real wait (start - eligible, so time
held back by dependencies or a begin time does not count as queueing), the time requested
against the time used, and how the job ended. Times are seconds since the Unix epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hpc.site.model import JobResources
from hpc.workload.trace import COL, N_FIELDS, SwfHeader, SwfTrace

# SWF status field: 1 completed, 0 failed, 5 cancelled (SWF v2.2).
_SWF_STATUS = {"COMPLETED": 1, "CANCELLED": 5}


@dataclass(frozen=True, slots=True)
class AccountingRecord:
    job_id: int
    name: str
    user: str
    group: str
    account: str
    partition: str
    state: str  # COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, ...
    submit_s: int
    eligible_s: int | None
    start_s: int | None
    end_s: int | None
    time_limit_s: int | None
    req_cpus: int
    alloc_cpus: int
    req_mem_mb: int | None
    req_gpus: int = 0
    alloc_gpus: int = 0
    cpu_time_s: float | None = None  # user + system, all steps
    exit_code: int | None = None  # None: unknown (see the adapters for why)
    signal: int | None = None
    comment: str = ""
    token: str | None = None
    array_job_id: int | None = None
    array_task_id: int | None = None
    qos: str = ""
    alloc_nodes: int = 0

    @property
    def started(self) -> bool:
        return self.start_s is not None and self.start_s > 0

    @property
    def wait_s(self) -> int | None:
        """Start - eligible: the time the job could have run but waited for resources."""
        if not self.started or not self.eligible_s:
            return None
        assert self.start_s is not None
        return max(0, self.start_s - self.eligible_s)

    @property
    def run_s(self) -> int | None:
        if not self.started or not self.end_s:
            return None
        assert self.start_s is not None
        return max(0, self.end_s - self.start_s)


def to_swf(records: Sequence[AccountingRecord], *, source: str, cluster: str) -> SwfTrace:
    """An SWF trace of the jobs that were eligible (never-eligible jobs carry no wait).

    SWF's submit time is the job's *eligible* time (when it entered the scheduler's view),
    relative to the earliest one (header `UnixStartTime`); wait = start - eligible. Users,
    groups and partitions are numbered in order of appearance; the header keeps the
    partition names. Requested memory is KB per processor as SWF wants.
    """
    kept = sorted(
        (r for r in records if r.eligible_s),
        key=lambda r: (r.eligible_s or 0, r.job_id),
    )
    header = SwfHeader()
    header.keys["Version"] = "2.2"
    header.keys["Computer"] = f"Slurm cluster {cluster}"
    header.keys["Note"] = "imported by schedsight from sacct; submit = eligible time"
    records_arr = np.full((len(kept), N_FIELDS), -1.0)
    if not kept:
        return SwfTrace(header, records_arr, np.zeros(0, dtype=np.int64), source=source)
    t0 = min(r.eligible_s or 0 for r in kept)
    header.keys["UnixStartTime"] = str(t0)
    users: dict[str, int] = {}
    groups: dict[str, int] = {}
    partitions: dict[str, int] = {}
    for i, r in enumerate(kept):
        row = records_arr[i]
        row[COL["job_number"]] = r.job_id
        row[COL["submit_time"]] = (r.eligible_s or t0) - t0
        row[COL["wait_time"]] = -1 if r.wait_s is None else r.wait_s
        row[COL["run_time"]] = -1 if r.run_s is None else r.run_s
        row[COL["allocated_procs"]] = r.alloc_cpus if r.alloc_cpus > 0 else -1
        if r.cpu_time_s is not None and r.alloc_cpus > 0:
            row[COL["avg_cpu_time"]] = r.cpu_time_s / r.alloc_cpus
        row[COL["requested_procs"]] = r.req_cpus if r.req_cpus > 0 else -1
        row[COL["requested_time"]] = -1 if r.time_limit_s is None else r.time_limit_s
        if r.req_mem_mb and r.req_cpus > 0:
            row[COL["requested_memory"]] = r.req_mem_mb * 1024 // r.req_cpus
        row[COL["status"]] = _SWF_STATUS.get(r.state, 0)
        row[COL["user_id"]] = users.setdefault(r.user, len(users) + 1)
        row[COL["group_id"]] = groups.setdefault(r.group, len(groups) + 1)
        row[COL["partition"]] = partitions.setdefault(r.partition, len(partitions) + 1)
    header.keys["MaxRecords"] = str(len(kept))
    header.keys["Partitions"] = ",".join(f"{n}={name}" for name, n in partitions.items())
    lines = np.arange(1, len(kept) + 1, dtype=np.int64)
    return SwfTrace(header, records_arr, lines, source=source)


def job_resources(records: Sequence[AccountingRecord]) -> list[JobResources]:
    """GPUs, account and QOS of each record, for the site replay (`to_swf` keeps what SWF
    has columns for; this keeps the rest, keyed by job number). The node count stays 0 (as
    few as fit): accounting records how many nodes a job got, not whether it asked for them,
    and Slurm spreads a job's tasks over whatever nodes fit it best."""
    return [
        JobResources(r.job_id, max(r.req_gpus, r.alloc_gpus), r.account, r.qos) for r in records
    ]

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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hpc.slurm.accounting import AccountingRecord
from hpc.slurm.errors import SlurmCommandError, SlurmDataError
from hpc.slurm.hostlist import expand_hostlist
from hpc.slurm.spec import split_comment
from hpc.slurm.state import LiveJob, Node, Partition

DATA_VERSION = "v0.0.38"
Json = Mapping[str, Any]
_GPU_TRES = re.compile(r"gres[:/]gpu(?::[^:=,]+)?[:=](\d+)")


def release(doc: Json) -> str:
    """The Slurm release that wrote `doc` ("22.05.8"), from its `meta`."""
    try:
        return str(doc["meta"]["Slurm"]["release"])
    except (KeyError, TypeError) as exc:
        raise SlurmDataError("Slurm JSON without meta.Slurm.release") from exc


def check_errors(doc: Json, what: str) -> None:
    errors = [e for e in doc.get("errors") or [] if e]
    if errors:
        text = "; ".join(str(e.get("error") or e.get("description") or e) for e in errors)
        raise SlurmCommandError(what, text)


def num(value: Any) -> int | None:
    """An integer field; None for null, unset or infinite (also reads 23.02+ number objects)."""
    if isinstance(value, Mapping):
        if not value.get("set", True) or value.get("infinite"):
            return None
        value = value.get("number")
    if value is None or isinstance(value, bool):
        return None
    return int(value)


def _epoch(value: Any) -> int | None:
    t = num(value)
    return t if t else None


def _minutes(value: Any) -> int | None:
    m = num(value)
    return None if m is None else m * 60


def _wait_status(raw: Any) -> tuple[int | None, int | None]:
    """(exit code, signal) from a raw wait status."""
    status = num(raw)
    if status is None:
        return None, None
    if status & 0x7F:
        return None, status & 0x7F
    return (status >> 8) & 0xFF, None


def gpu_count(tres: str | None) -> int:
    """GPUs in a TRES string ('gres:gpu:2', 'gres:gpu:a100:4', 'cpu=1,gres/gpu=2')."""
    return sum(int(m.group(1)) for m in _GPU_TRES.finditer(tres or ""))


def _job_gpus(j: Json) -> int:
    allocated = gpu_count(j.get("tres_alloc_str"))
    if allocated:
        return allocated
    per_job = gpu_count(j.get("tres_per_job"))
    if per_job:
        return per_job
    per_node = gpu_count(j.get("tres_per_node"))
    if per_node:
        return per_node * (num(j.get("node_count")) or 1)
    return gpu_count(j.get("tres_per_task")) * (num(j.get("tasks")) or 1)


def parse_jobs(doc: Json) -> list[LiveJob]:
    """Jobs from `squeue --json` or GET /slurm/v0.0.38/jobs (every job; filter yourself)."""
    check_errors(doc, "reading the job queue")
    jobs = []
    for j in doc.get("jobs") or []:
        state = _state(j.get("job_state"))
        exit_code, signal = (None, None)
        if state not in ("PENDING", "RUNNING", "SUSPENDED", "CONFIGURING", "COMPLETING"):
            exit_code, signal = _wait_status(j.get("exit_code"))
        comment, token = split_comment(j.get("comment") or "")
        array_job = num(j.get("array_job_id"))
        start = _epoch(j.get("start_time"))
        jobs.append(
            LiveJob(
                job_id=int(j["job_id"]),
                name=j.get("name") or "",
                user=j.get("user_name") or str(j.get("user_id", "")),
                account=j.get("account") or "",
                partition=j.get("partition") or "",
                state=state,
                reason=j.get("state_reason") or "None",
                submit_s=_epoch(j.get("submit_time")) or 0,
                eligible_s=_epoch(j.get("eligible_time")),
                start_s=start,
                end_s=_epoch(j.get("end_time")) if state != "PENDING" else None,
                time_limit_s=_minutes(j.get("time_limit")),
                cpus=num(j.get("cpus")) or 0,
                node_count=num(j.get("node_count")) or 0,
                node_list=j.get("nodes") or "",
                gpus=_job_gpus(j),
                priority=num(j.get("priority")) or 0,
                nice=num(j.get("nice")) or 0,
                dependency=j.get("dependency") or "",
                comment=comment,
                token=token,
                array_job_id=array_job or None,
                array_task_id=num(j.get("array_task_id")) if array_job else None,
                exit_code=exit_code,
                signal=signal,
            )
        )
    return jobs


def _state(value: Any) -> str:
    if isinstance(value, list):  # 23.02+: a list of flags, base state first
        return str(value[0]).upper() if value else "UNKNOWN"
    return str(value or "UNKNOWN").upper()


def _gres(gres: str | None) -> tuple[int, str | None]:
    """(GPU count, GPU type) from a node's gres ('gpu:a100:4(S:0)', 'gpu:4')."""
    total, kind = 0, None
    for item in (gres or "").split(","):
        parts = re.sub(r"\(.*?\)", "", item).split(":")
        if parts[0] != "gpu" or len(parts) < 2 or not parts[-1].isdigit():
            continue
        total += int(parts[-1])
        if len(parts) == 3:
            kind = parts[1]
    return total, kind


def parse_nodes(doc: Json) -> list[Node]:
    """Nodes from `sinfo --json` or GET /slurm/v0.0.38/nodes (every node; filter yourself)."""
    check_errors(doc, "reading the nodes")
    nodes = []
    for n in doc.get("nodes") or []:
        gpus, kind = _gres(n.get("gres"))
        used, _ = _gres(n.get("gres_used"))
        flags = n.get("state_flags") or []
        state = n.get("state")
        if isinstance(state, list):
            state, flags = (state[0] if state else "unknown"), [*state[1:], *flags]
        nodes.append(
            Node(
                name=n["name"],
                state=str(state or "unknown").lower(),
                cpus=num(n.get("cpus")) or 0,
                alloc_cpus=num(n.get("alloc_cpus")) or 0,
                mem_mb=num(n.get("real_memory")) or 0,
                alloc_mem_mb=num(n.get("alloc_memory")) or 0,
                gpus=gpus,
                gpus_used=used,
                gpu_type=kind,
                partitions=tuple(n.get("partitions") or ()),
                flags=tuple(str(f).upper() for f in flags),
                reason=n.get("reason") or "",
            )
        )
    return nodes


def parse_partitions(doc: Json) -> list[Partition]:
    """Partitions from GET /slurm/v0.0.38/partitions (the CLI has no JSON for them in 22.05)."""
    check_errors(doc, "reading the partitions")
    return [
        Partition(
            name=p["name"],
            nodes=tuple(expand_hostlist(p.get("nodes") or "")),
            max_time_s=_minutes(p.get("max_time_limit")),
            default="default" in (p.get("flags") or []),
            state=str(p.get("state") or "UP"),
        )
        for p in doc.get("partitions") or []
    ]


def _tres(items: list[Json] | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in items or []:
        key = t.get("type", "") + (f"/{t['name']}" if t.get("name") else "")
        count = num(t.get("count"))
        if count is not None:
            out[key] = out.get(key, 0) + count
    return out


def _exit(j: Json, state: str) -> tuple[int | None, int | None]:
    code = j.get("exit_code") or {}
    status = code.get("status")
    if status == "SIGNALED":
        return None, num((code.get("signal") or {}).get("signal_id"))
    rc = num(code.get("return_code"))
    if state == "FAILED" and status == "SUCCESS" and not rc:
        return None, None  # 22.05 bug: a failed job's exit code reads 0; unknown here
    return rc, None


def parse_accounting(doc: Json) -> list[AccountingRecord]:
    """Finished and running jobs from `sacct --json` or GET /slurmdb/v0.0.38/jobs."""
    check_errors(doc, "reading the accounting records")
    records = []
    for j in doc.get("jobs") or []:
        state = _state((j.get("state") or {}).get("current"))
        t = j.get("time") or {}
        total = t.get("total") or {}
        req, alloc = (
            _tres((j.get("tres") or {}).get("requested")),
            _tres((j.get("tres") or {}).get("allocated")),
        )
        comment = j.get("comment")
        stored = (comment.get("job") if isinstance(comment, Mapping) else comment) or ""
        user_comment, token = split_comment(stored)
        array = j.get("array") or {}
        array_job = num(array.get("job_id"))
        exit_code, signal = _exit(j, state)
        cpu_s = None
        if total:
            cpu_s = (num(total.get("seconds")) or 0) + (num(total.get("microseconds")) or 0) / 1e6
        records.append(
            AccountingRecord(
                job_id=int(j["job_id"]),
                name=j.get("name") or "",
                user=j.get("user") or "",
                group=j.get("group") or "",
                account=j.get("account") or "",
                partition=j.get("partition") or "",
                state=state,
                submit_s=_epoch(t.get("submission")) or 0,
                eligible_s=_epoch(t.get("eligible")),
                start_s=_epoch(t.get("start")),
                end_s=_epoch(t.get("end")),
                time_limit_s=_minutes(t.get("limit")),
                req_cpus=req.get("cpu", 0),
                alloc_cpus=alloc.get("cpu", 0),
                req_mem_mb=req.get("mem"),
                req_gpus=req.get("gres/gpu", 0),
                alloc_gpus=alloc.get("gres/gpu", 0),
                cpu_time_s=cpu_s,
                exit_code=exit_code,
                signal=signal,
                comment=user_comment,
                token=token,
                array_job_id=array_job or None,
                array_task_id=num(array.get("task_id")) if array_job else None,
            )
        )
    return records

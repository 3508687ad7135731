"""The readers of Slurm's four documents (queue, nodes, partitions, accounting), shared by
every dialect: fields that moved or changed shape between releases are read in each of their
forms (see `json_common`), and what differs in meaning, the exit code, comes from the
dialect as a function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from hpc.slurm.accounting import AccountingRecord
from hpc.slurm.hostlist import expand_hostlist
from hpc.slurm.json_common import (
    Json,
    check_errors,
    cpu_seconds,
    epoch,
    gres,
    job_gpus,
    minutes,
    num,
    read_state,
    tres,
)
from hpc.slurm.spec import split_comment
from hpc.slurm.state import LiveJob, Node, Partition

# (exit code, signal) of a job from its record and its state; (None, None) when unknown.
ExitReader = Callable[[Json, str], tuple[int | None, int | None]]
_NOT_ENDED = ("PENDING", "RUNNING", "SUSPENDED", "CONFIGURING", "COMPLETING")


def read_jobs(doc: Json, read_exit: ExitReader) -> list[LiveJob]:
    """Jobs from `squeue --json` or GET /slurm/VERSION/jobs."""
    check_errors(doc, "reading the job queue")
    jobs = []
    for j in doc.get("jobs") or []:
        state = read_state(j.get("job_state"))
        exit_code, signal = (None, None) if state in _NOT_ENDED else read_exit(j, state)
        comment, token = split_comment(j.get("comment") or "")
        array_job = num(j.get("array_job_id"))
        start = epoch(j.get("start_time"))
        jobs.append(
            LiveJob(
                job_id=int(j["job_id"]),
                name=j.get("name") or "",
                user=j.get("user_name") or str(j.get("user_id", "")),
                account=j.get("account") or "",
                partition=j.get("partition") or "",
                state=state,
                reason=j.get("state_reason") or "None",
                submit_s=epoch(j.get("submit_time")) or 0,
                eligible_s=epoch(j.get("eligible_time")),
                start_s=start,
                end_s=epoch(j.get("end_time")) if state != "PENDING" else None,
                time_limit_s=minutes(j.get("time_limit")),
                cpus=num(j.get("cpus")) or 0,
                node_count=num(j.get("node_count")) or 0,
                node_list=j.get("nodes") or "",
                gpus=job_gpus(j),
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


def read_nodes(doc: Json) -> list[Node]:
    """Nodes from 22.05's `sinfo --json`, `scontrol --json show nodes` or GET
    /slurm/VERSION/nodes. The state is a string plus `state_flags` in 22.05, a list from
    23.02 (base state first)."""
    check_errors(doc, "reading the nodes")
    nodes = []
    for n in doc.get("nodes") or []:
        gpus, kind = gres(n.get("gres"))
        used, _ = gres(n.get("gres_used"))
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


def read_partitions(doc: Json) -> list[Partition]:
    """Partitions from `scontrol --json show partition` or GET /slurm/VERSION/partitions.

    22.05: `nodes` a host list, `max_time_limit`, `flags: ["default"]`, `state`. From 23.02:
    `nodes.configured`, `maximums.time`, `partition.state` (a list); the default flag only
    from 26.05 (`flags: ["DEFAULT"]`), so before that it reads False (the CLI backend takes
    it from `scontrol show partition` instead).
    """
    check_errors(doc, "reading the partitions")
    out = []
    for p in doc.get("partitions") or []:
        nodes = p.get("nodes") or ""
        if isinstance(nodes, Mapping):
            nodes = nodes.get("configured") or ""
        limit = (p.get("maximums") or {}).get("time") if "maximums" in p else None
        state = (p.get("partition") or {}).get("state") or p.get("state") or "UP"
        out.append(
            Partition(
                name=p["name"],
                nodes=tuple(expand_hostlist(nodes)),
                max_time_s=minutes(limit if "maximums" in p else p.get("max_time_limit")),
                default="DEFAULT" in {str(f).upper() for f in p.get("flags") or []},
                state=read_state(state),
            )
        )
    return out


def read_accounting(doc: Json, read_exit: ExitReader) -> list[AccountingRecord]:
    """Finished and running jobs from `sacct --json` or GET /slurmdb/VERSION/jobs."""
    check_errors(doc, "reading the accounting records", empty_ok=True)
    records = []
    for j in doc.get("jobs") or []:
        state = read_state((j.get("state") or {}).get("current"))
        t = j.get("time") or {}
        total = t.get("total") or {}
        req, alloc = (
            tres((j.get("tres") or {}).get("requested")),
            tres((j.get("tres") or {}).get("allocated")),
        )
        comment = j.get("comment")
        stored = (comment.get("job") if isinstance(comment, Mapping) else comment) or ""
        user_comment, token = split_comment(stored)
        array = j.get("array") or {}
        array_job = num(array.get("job_id"))
        exit_code, signal = read_exit(j, state)
        cpu_s = cpu_seconds(total)
        records.append(
            AccountingRecord(
                job_id=int(j["job_id"]),
                name=j.get("name") or "",
                user=j.get("user") or "",
                group=j.get("group") or "",
                account=j.get("account") or "",
                partition=j.get("partition") or "",
                state=state,
                submit_s=epoch(t.get("submission")) or 0,
                eligible_s=epoch(t.get("eligible")),
                start_s=epoch(t.get("start")),
                end_s=epoch(t.get("end")),
                time_limit_s=minutes(t.get("limit")),
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
                qos=str(j.get("qos") or ""),
                alloc_nodes=alloc.get("node", 0),
            )
        )
    return records

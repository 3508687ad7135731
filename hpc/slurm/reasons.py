"""Slurm's pending-reason codes in plain words, for people reading the queue."""

from __future__ import annotations

_REASONS = {
    "None": "no reason given (about to be scheduled)",
    "Priority": "waiting for jobs with a higher priority to start first",
    "Resources": "waiting for enough free nodes, cores, memory or GPUs",
    "Dependency": "waiting for the jobs it depends on to finish",
    "DependencyNeverSatisfied": "its dependency can never be satisfied (a job it needs failed)",
    "JobHeldUser": "held by its user (release it to let it run)",
    "JobHeldAdmin": "held by an administrator (an admin must release it)",
    "BeginTime": "its requested begin time has not come yet",
    "JobArrayTaskLimit": "its array already runs as many tasks as its % limit allows",
    "PartitionTimeLimit": "its time limit is longer than the partition allows",
    "PartitionNodeLimit": "it asks for more nodes than the partition allows",
    "PartitionDown": "its partition is down",
    "PartitionInactive": "its partition is inactive",
    "ReqNodeNotAvail": "a node it requires is unavailable (down, drained or reserved)",
    "Reservation": "waiting for its reservation to start",
    "AssocGrpCpuLimit": "its account has reached its CPU limit",
    "AssocGrpJobsLimit": "its account has reached its running-jobs limit",
    "AssocMaxJobsLimit": "its association has reached its running-jobs limit",
    "QOSMaxJobsPerUserLimit": "its user has reached the QOS running-jobs limit",
    "QOSGrpCpuLimit": "its QOS has reached its CPU limit",
    "InvalidAccount": "its account is not valid",
    "InvalidQOS": "its QOS is not valid",
    "BadConstraints": "its constraints cannot be met by any node",
    "NodeDown": "a node it needs is down",
    "Licenses": "waiting for licenses",
    "launch failed requeued held": "its launch failed; it was requeued and held",
}


def pending_reason_text(code: str) -> str:
    """`Resources` -> "waiting for enough free nodes, ..."; unknown codes are kept as they are."""
    return _REASONS.get(code, f"Slurm reason {code!r}" if code else "no reason given")

"""Per-job resources beside a stored workload (`WorkloadJobResources`): what a job imported
from Slurm asked for that SWF cannot say (GPUs, account, QOS, nodes)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.models import WorkloadJobResources
from hpc.site.model import JobResources


def save_job_resources(session: Session, workload_id: int, rows: Sequence[JobResources]) -> None:
    """Store (or replace) the workload's per-job resources, one row per job number."""
    session.execute(
        delete(WorkloadJobResources).where(WorkloadJobResources.workload_id == workload_id)
    )
    unique = {r.job_number: r for r in rows}  # an id seen twice: the later record wins
    session.add_all(
        WorkloadJobResources(
            workload_id=workload_id,
            job_number=r.job_number,
            gpus=r.gpus,
            account=r.account,
            qos=r.qos,
            nodes=r.nodes,
        )
        for r in unique.values()
    )
    session.flush()


def load_job_resources(session: Session, workload_id: int) -> dict[int, JobResources]:
    """The workload's per-job resources by job number (empty for a plain SWF workload)."""
    query = select(WorkloadJobResources).where(WorkloadJobResources.workload_id == workload_id)
    return {
        row.job_number: JobResources(row.job_number, row.gpus, row.account, row.qos, row.nodes)
        for row in session.scalars(query)
    }

"""Stored OpenMP offload runs: record one finished run, list them for people and predictors."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import OffloadRunRow


def record_offload_run(
    session: Session,
    *,
    name: str,
    runtime: str,
    policy: str,
    ranks: int,
    nodes: int,
    gpus_per_rank: int,
    cluster: str,
    slurm_job_id: int,
    state: str,
    exit_code: int | None,
    device: str,
    elapsed_s: int | None,
    kernel_s: float | None,
    check_ok: bool | None,
    check_detail: str,
    spec: dict[str, Any],
) -> OffloadRunRow:
    row = OffloadRunRow(
        name=name, runtime=runtime, policy=policy, ranks=ranks, nodes=nodes,
        gpus_per_rank=gpus_per_rank, cluster=cluster, slurm_job_id=slurm_job_id, state=state,
        exit_code=exit_code, device=device, elapsed_s=elapsed_s, kernel_s=kernel_s,
        check_ok=check_ok, check_detail=check_detail, spec=spec,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def list_offload_runs(
    session: Session, *, name: str | None = None, limit: int = 50
) -> list[OffloadRunRow]:
    """Newest first; only `name`'s runs when given."""
    query = select(OffloadRunRow).order_by(OffloadRunRow.id.desc()).limit(limit)
    if name is not None:
        query = query.where(OffloadRunRow.name == name)
    return list(session.scalars(query))

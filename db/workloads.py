"""Workloads in the database: idempotent bulk import of a trace and loading it back.

A workload is keyed by the checksum of its header and records, so importing the same trace
twice returns the stored one. Jobs go in with batched inserts (COPY on PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from db.errors import NotFoundError
from db.models import Workload, WorkloadJob
from db.upsert import insert_if_absent
from hpc.workload.cleaning import CleaningReport
from hpc.workload.trace import FLOAT_FIELDS, SWF_FIELDS, SwfHeader, SwfTrace

if TYPE_CHECKING:
    import psycopg

_COLUMNS = ("workload_id", "idx", "line", *SWF_FIELDS)
_SQLITE_BATCH = 20_000


@dataclass(frozen=True, slots=True)
class ImportResult:
    workload: Workload
    created: bool  # False: the same content was already stored


def import_workload(
    session: Session,
    *,
    trace: SwfTrace,
    name: str,
    cleaning: CleaningReport,
) -> ImportResult:
    """Store `trace` unless a workload with the same checksum exists (then return that)."""
    checksum = trace.checksum()
    new_id = insert_if_absent(
        session,
        Workload.__table__,  # type: ignore[arg-type]
        {
            "name": name,
            "source": trace.source,
            "checksum": checksum,
            "job_count": len(trace),
            "header": {"keys": trace.header.keys, "comments": trace.header.comments},
            "read_report": [f"skipped {trace.skipped_count} malformed lines", *trace.skipped]
            if trace.skipped_count
            else [],
            "cleaning_report": cleaning.as_dict(),
        },
        conflict=["checksum"],
    )
    if new_id is None:
        existing = session.scalars(select(Workload).where(Workload.checksum == checksum)).one()
        return ImportResult(existing, created=False)
    _insert_jobs(session, new_id, trace)
    return ImportResult(session.get_one(Workload, new_id), created=True)


def _job_rows(workload_id: int, trace: SwfTrace) -> list[tuple[object, ...]]:
    n = len(trace)
    columns: list[list[object]] = [
        [workload_id] * n,
        list(range(n)),
        trace.line_numbers.tolist(),
    ]
    for k in range(len(SWF_FIELDS)):
        col = trace.records[:, k]
        columns.append(col.tolist() if k in FLOAT_FIELDS else col.astype(np.int64).tolist())
    return list(zip(*columns, strict=True))


def _insert_jobs(session: Session, workload_id: int, trace: SwfTrace) -> None:
    rows = _job_rows(workload_id, trace)
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        pg = cast("psycopg.Connection[Any]", conn.connection.dbapi_connection)
        with pg.cursor() as cur:
            names = ", ".join(_COLUMNS)
            with cur.copy(f"COPY {WorkloadJob.__tablename__} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    marks = ", ".join("?" * len(_COLUMNS))
    sql = f"INSERT INTO {WorkloadJob.__tablename__} ({', '.join(_COLUMNS)}) VALUES ({marks})"
    for start in range(0, len(rows), _SQLITE_BATCH):
        conn.exec_driver_sql(sql, rows[start : start + _SQLITE_BATCH])


def get_workload(session: Session, *, workload_id: int) -> Workload:
    workload = session.get(Workload, workload_id)
    if workload is None:
        raise NotFoundError("workload", workload_id)
    return workload


def list_workloads(session: Session) -> list[Workload]:
    return list(session.scalars(select(Workload).order_by(Workload.id)))


def newest_from(session: Session, source_prefix: str) -> int | None:
    """The id of the newest workload whose source starts with `source_prefix` (e.g.
    `slurm:CLUSTER:` for what `slurm import` stored from CLUSTER); None: there is none."""
    query = select(func.max(Workload.id)).where(Workload.source.startswith(source_prefix))
    found = session.execute(query).scalar_one()
    return None if found is None else int(found)


def load_trace(session: Session, *, workload_id: int) -> SwfTrace:
    """The stored trace, exactly as imported (same checksum)."""
    workload = get_workload(session, workload_id=workload_id)
    table = WorkloadJob.__table__
    cols = [table.c[name] for name in ("line", *SWF_FIELDS)]
    rows = session.execute(
        select(*cols).where(table.c.workload_id == workload_id).order_by(table.c.idx)
    ).all()
    data = np.array(rows, dtype=np.float64).reshape(len(rows), len(cols))
    header = SwfHeader(
        keys=dict(workload.header["keys"]), comments=list(workload.header["comments"])
    )
    return SwfTrace(
        header=header,
        records=np.ascontiguousarray(data[:, 1:]),
        line_numbers=data[:, 0].astype(np.int64),
        source=workload.source,
    )


def count_jobs(session: Session, *, workload_id: int) -> int:
    stmt = select(func.count()).where(WorkloadJob.workload_id == workload_id)
    return int(session.execute(stmt).scalar_one())


def delete_workload(session: Session, *, workload_id: int) -> None:
    """Remove a workload with its jobs, scenarios and runs."""
    get_workload(session, workload_id=workload_id)
    session.execute(delete(WorkloadJob).where(WorkloadJob.workload_id == workload_id))
    session.execute(delete(Workload).where(Workload.id == workload_id))

"""Time to import the 188,041-job LCG trace into SQLite and into PostgreSQL.

Each import goes into a fresh, migrated database (a temporary SQLite file; a temporary
PostgreSQL database on SCHEDSIGHT_BENCH_POSTGRES_URL, default the local server's `test`
database's host). Reading the trace is timed apart from the import.

    python bench/db_import.py
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from db.migrate import upgrade
from db.session import make_engine, session_factory, sqlite_url, transaction
from db.workloads import count_jobs, import_workload
from hpc.workload.cleaning import (
    CleaningReport,
    clean,
    machine_for,
)
from hpc.workload.swf import read_swf
from hpc.workload.trace import SwfTrace

ROOT = Path(__file__).resolve().parents[1]
TRACES = Path(os.environ.get("SCHEDSIGHT_TRACES_DIR", ROOT.parent / "shared" / "traces"))
PG_ADMIN = os.environ.get(
    "SCHEDSIGHT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def timed_import(url: str, trace: SwfTrace, report: CleaningReport) -> tuple[float, int]:
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    t0 = time.perf_counter()
    with transaction(sessions) as session:
        workload_id = import_workload(session, trace=trace, name="LCG", cleaning=report).workload.id
    elapsed = time.perf_counter() - t0
    with transaction(sessions) as session:
        stored = count_jobs(session, workload_id=workload_id)
    engine.dispose()
    return elapsed, stored


def main() -> int:
    path = TRACES / "LCG.swf.gz"
    if not path.exists():
        print(f"skipped: {path} not found (shared traces absent)")
        return 0
    t0 = time.perf_counter()
    trace = read_swf(path)
    _, report = clean(trace, machine=machine_for(trace))
    print(f"read + clean {len(trace):,} jobs: {time.perf_counter() - t0:.2f} s")

    with tempfile.TemporaryDirectory() as tmp:
        seconds, stored = timed_import(sqlite_url(Path(tmp) / "bench.db"), trace, report)
        print(
            f"SQLite     import {stored:,} jobs: {seconds:.2f} s ({stored / seconds:,.0f} jobs/s)"
        )

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"schedsight_bench_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        print(f"PostgreSQL skipped: cannot create a database at {PG_ADMIN}: {exc}")
        return 0
    try:
        url = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
        seconds, stored = timed_import(url, trace, report)
        print(
            f"PostgreSQL import {stored:,} jobs: {seconds:.2f} s ({stored / seconds:,.0f} jobs/s)"
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

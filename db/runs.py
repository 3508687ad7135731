"""Simulation runs: their life (running, then succeeded or failed) and their stored results.

A run row is committed as `running` before the replay starts, and its results are written
in one transaction when it ends; if anything interrupts it (an exception, SIGTERM turned
into one), the row is marked `failed` with the reason. Nothing is ever half-written. A
process that cannot say so (kill -9, a lost machine) is found by the next one to open the
store: `fail_stale_runs`, judged by the owner and heartbeat of `db.heartbeat`.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload, sessionmaker

from db.errors import InvalidValueError, NotFoundError
from db.heartbeat import STALE_AFTER_S, Heartbeat, Owner, stale_because
from db.models import RunStatus, Scenario, SimulationRun, utcnow
from db.session import transaction

MAX_LIST_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class RunResults:
    """What a finished replay stores."""

    metrics: dict[str, Any]
    per_user: list[dict[str, Any]]
    per_partition: list[dict[str, Any]]
    cleaning_report: dict[str, Any]
    start_s: npt.NDArray[np.int64]
    end_s: npt.NDArray[np.int64]


def pack_schedule(start_s: npt.NDArray[np.int64], end_s: npt.NDArray[np.int64]) -> bytes:
    both = np.concatenate([start_s.astype("<i8"), end_s.astype("<i8")])
    return zlib.compress(both.tobytes(), level=6)


def unpack_schedule(blob: bytes) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    both = np.frombuffer(zlib.decompress(blob), dtype="<i8").astype(np.int64)
    half = len(both) // 2
    return both[:half], both[half:]


def start_run(session: Session, *, scenario_id: int, owner: Owner | None = None) -> SimulationRun:
    owner = owner or Owner.this_process()
    run = SimulationRun(
        scenario_id=scenario_id,
        status=RunStatus.RUNNING,
        owner_host=owner.host,
        owner_pid=owner.pid,
        owner_instance=owner.instance,
        heartbeat_at=utcnow(),
    )
    session.add(run)
    session.flush()
    return run


def finish_run(session: Session, *, run_id: int, results: RunResults) -> SimulationRun:
    run = get_run(session, run_id=run_id)
    run.status = RunStatus.SUCCEEDED
    run.finished_at = utcnow()
    run.metrics = results.metrics
    run.sim_wall_s = float(results.metrics.get("sim_wall_s", 0.0))
    run.per_user = results.per_user
    run.per_partition = results.per_partition
    run.cleaning_report = results.cleaning_report
    run.schedule = pack_schedule(results.start_s, results.end_s)
    return run


def fail_run(session: Session, *, run_id: int, reason: str) -> SimulationRun:
    run = get_run(session, run_id=run_id)
    run.status = RunStatus.FAILED
    run.finished_at = utcnow()
    run.error = reason
    return run


@contextmanager
def recording_run(factory: sessionmaker[Session], *, scenario_id: int) -> Iterator[int]:
    """Commit a `running` row, yield its id while a heartbeat says it lives; on any exit but
    success mark it failed.

    The caller stores results with `finish_run` inside its own transaction before leaving
    the block. BaseException is caught on purpose: Ctrl-C and SIGTERM must not leave a
    run that claims to be running forever.
    """
    with transaction(factory) as session:
        run_id = start_run(session, scenario_id=scenario_id).id
    try:
        with Heartbeat(factory, run_id=run_id):
            yield run_id
    except BaseException as exc:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        with transaction(factory) as session:
            fail_run(session, run_id=run_id, reason=reason)
        raise


def fail_stale_runs(
    session: Session, *, now: datetime | None = None, stale_after_s: float = STALE_AFTER_S
) -> list[int]:
    """Mark `failed` every running run whose owner is gone; their ids.

    Run by whoever opens the store next. The update is conditional on the status, so two
    processes doing this at once, or an owner finishing meanwhile, never clash.
    """
    now, me = now or utcnow(), Owner.this_process()
    running = session.scalars(
        select(SimulationRun).where(SimulationRun.status == RunStatus.RUNNING)
    )
    failed = []
    for run in list(running):
        reason = stale_because(run, me=me, now=now, stale_after_s=stale_after_s)
        if reason is None:
            continue
        done = session.execute(
            update(SimulationRun)
            .where(SimulationRun.id == run.id, SimulationRun.status == RunStatus.RUNNING)
            .values(status=RunStatus.FAILED, finished_at=now, error=reason)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount:  # type: ignore[attr-defined]
            failed.append(run.id)
    return failed


def reusable_run(session: Session, *, scenario_id: int) -> SimulationRun | None:
    """The latest successful run of a scenario, if any."""
    stmt = (
        select(SimulationRun)
        .where(SimulationRun.scenario_id == scenario_id)
        .where(SimulationRun.status == RunStatus.SUCCEEDED)
        .order_by(SimulationRun.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def get_run(session: Session, *, run_id: int) -> SimulationRun:
    stmt = (
        select(SimulationRun)
        .where(SimulationRun.id == run_id)
        .options(joinedload(SimulationRun.scenario).joinedload(Scenario.workload))
    )
    run = session.scalars(stmt).first()
    if run is None:
        raise NotFoundError("simulation run", run_id)
    return run


def list_runs(
    session: Session,
    *,
    limit: int = 50,
    status: RunStatus | None = None,
    since: datetime | None = None,
) -> list[SimulationRun]:
    """Newest first, with scenario and workload loaded; at most `limit` (1..MAX_LIST_LIMIT)."""
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidValueError(f"a run listing's limit must be 1 to {MAX_LIST_LIMIT}, got {limit}")
    stmt = (
        select(SimulationRun)
        .options(joinedload(SimulationRun.scenario).joinedload(Scenario.workload))
        .order_by(SimulationRun.id.desc())
        .limit(limit)
    )
    if status is not None:
        stmt = stmt.where(SimulationRun.status == status)
    if since is not None:
        stmt = stmt.where(SimulationRun.created_at >= since)
    return list(session.scalars(stmt))

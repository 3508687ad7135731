"""Who owns a running run, its heartbeat, and how a run whose owner died is recognised.

A `running` row records its owner (host, pid, and an instance id: the kernel's boot id
plus the pid namespace) and a heartbeat timestamp that a background thread moves forward
every HEARTBEAT_S while the run goes on. A run is stale when its owner is on this very
instance and its pid no longer exists (kill -9: known at once), or when its heartbeat is
older than STALE_AFTER_S (another machine, a reboot, a reused pid: known within a minute).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from db.errors import DbError
from db.models import RunStatus, SimulationRun, utcnow
from db.session import transaction

HEARTBEAT_S = 5.0
# Twelve missed beats: a busy machine delays a beat by seconds, not by a minute.
STALE_AFTER_S = 60.0
STALE_REASON = "process ended without finishing"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Owner:
    """A process, named so that another process can judge whether it still lives."""

    host: str
    pid: int
    instance: str  # equal only where pids are comparable: same boot, same pid namespace

    @classmethod
    def this_process(cls) -> Owner:
        return cls(socket.gethostname()[:255], os.getpid(), _instance())


def _instance() -> str:
    boot = _read("/proc/sys/kernel/random/boot_id") or "no-boot-id"
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = "no-pid-ns"
    return f"{boot}/{namespace}"[:128]


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def stale_because(
    run: SimulationRun, *, me: Owner, now: datetime, stale_after_s: float = STALE_AFTER_S
) -> str | None:
    """Why `run` (status running) has no live owner, or None while it may still be going."""
    last = run.heartbeat_at or run.created_at  # rows from before revision 0003 never beat
    if last.tzinfo is None:  # SQLite hands back naive datetimes; they were stored in UTC
        last = last.replace(tzinfo=now.tzinfo)
    owner = f"pid {run.owner_pid} on {run.owner_host}" if run.owner_pid else "an unknown process"
    when = f"last heartbeat {last.isoformat(timespec='seconds')}"
    if (
        run.owner_pid is not None
        and run.owner_instance == me.instance
        and not _pid_exists(run.owner_pid)
    ):
        return f"{STALE_REASON} ({owner} is gone; {when})"
    if now - last > timedelta(seconds=stale_after_s):
        return f"{STALE_REASON} ({owner} stopped beating; {when})"
    return None


def beat(session: Session, *, run_id: int) -> None:
    session.execute(
        update(SimulationRun)
        .where(SimulationRun.id == run_id, SimulationRun.status == RunStatus.RUNNING)
        .values(heartbeat_at=utcnow())
    )


class Heartbeat:
    """A daemon thread that beats for one run until stopped (use as a context manager)."""

    def __init__(
        self, factory: sessionmaker[Session], *, run_id: int, every_s: float = HEARTBEAT_S
    ) -> None:
        self.factory, self.run_id, self.every_s = factory, run_id, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"heartbeat-run-{run_id}", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                with transaction(self.factory) as session:
                    beat(session, run_id=self.run_id)
            except DbError as exc:
                # The run itself goes on; a missed beat only risks it being called stale,
                # and its own end (finish or fail) still writes the true status.
                log.warning("run %s: heartbeat not recorded: %s", self.run_id, exc)

"""A real Slurm cluster for the tests that need one (`scripts/slurm-dev-cluster.sh up`).

When none answers, those tests skip with the reason, except in CI (CI=true), where they
fail: CI brings the cluster up first, so a missing one is a broken CI, not a skip.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from db.audit import AuditTrail
from db.migrate import upgrade
from db.session import make_engine, session_factory, sqlite_url
from hpc.slurm.backend import SlurmBackend
from hpc.slurm.cli_backend import CliBackend
from hpc.slurm.errors import BackendUnavailableError
from hpc.slurm.remit import Remit
from hpc.slurm.state import LiveJob

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "slurm-dev-cluster.sh"
REST_SOCKET = "unix:/run/slurmrestd/slurmrestd.sock"
REST_TCP = "http://127.0.0.1:6820"
REMIT = Remit.of(["physics"], ["batch", "gpu"])
LOCK = Path("/tmp/schedsight-slurm-tests.lock")
LOCK_WAIT_S = 1800


def _why_not_up() -> str | None:
    if shutil.which("sinfo") is None:
        return "Slurm is not installed here (no sinfo): run `sudo scripts/slurm-dev-cluster.sh up`"
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    if ping.returncode != 0 or "is UP" not in ping.stdout:
        return (
            "no Slurm controller answers (`scontrol ping`: "
            f"{' '.join((ping.stdout + ping.stderr).split())[:120]}); run "
            "`sudo scripts/slurm-dev-cluster.sh up`"
        )
    return None


@pytest.fixture(scope="session")
def slurm_cluster() -> str:
    """The dev cluster's name; skips (fails in CI) when no cluster is up (checked once this
    session holds the cluster: see `hold_cluster`)."""
    hold_cluster()
    _skip_or_fail(_why_not_up())
    return CliBackend().cluster_name()


_held: list[int] = []  # the lock's file descriptor, once this process holds it


def hold_cluster() -> None:
    """Wait until this test process alone drives the dev cluster (its tests fill the GPUs and
    stop the controller), up to LOCK_WAIT_S. Held until the process exits; taking it again
    is a no-op, so every live-cluster test (Slurm, offload, dashboard) can ask for it; so is
    taking it where Slurm is not installed."""
    if _held or shutil.which("sinfo") is None:
        return
    fd = _open_lock()
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                pytest.fail(f"another test session held {LOCK} for {LOCK_WAIT_S} s")
            time.sleep(1)
    _held.append(fd)


def _skip_or_fail(reason: str | None) -> None:
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must run the Slurm tests)")
    pytest.skip(reason)


def _open_lock() -> int:
    """The lock file, made world-writable by whoever comes first (CI runs as root, people
    as themselves; /tmp refuses to re-create another user's file, so open it first)."""
    try:
        return os.open(LOCK, os.O_RDWR)
    except FileNotFoundError:
        try:
            fd = os.open(LOCK, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # another session made it just now
            return os.open(LOCK, os.O_RDWR)
        os.fchmod(fd, 0o666)  # whatever the umask
        return fd


def restart_cluster() -> None:
    """Start whatever is not running (slurmctld after a test stopped it)."""
    subprocess.run(["bash", str(SCRIPT), "up"], check=True, capture_output=True, timeout=300)


def make_backend(kind: str) -> SlurmBackend:
    if kind == "cli":
        return CliBackend()
    if kind == "pyslurm":
        from hpc.slurm.pyslurm_backend import PyslurmBackend

        try:
            return PyslurmBackend()
        except BackendUnavailableError as exc:
            pytest.skip(f"pyslurm backend unavailable: {exc}")
    from hpc.slurm.rest_backend import RestBackend

    if kind == "rest-unix":
        return RestBackend(REST_SOCKET)
    token = subprocess.run(
        ["scontrol", "token", "username=root", "lifespan=1800"],
        capture_output=True, text=True, check=True,
    ).stdout.strip().removeprefix("SLURM_JWT=")  # fmt: skip
    return RestBackend(REST_TCP, user="root", token=token)


BACKENDS = ["cli", "rest-unix", "rest-jwt", "pyslurm"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, slurm_cluster: str) -> SlurmBackend:
    """Each backend in turn (pyslurm skips with the reason where it cannot be installed)."""
    return make_backend(request.param)


@pytest.fixture
def audit_sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url(tmp_path / "audit.db"))
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def audit(audit_sessions: sessionmaker[Session]) -> AuditTrail:
    return AuditTrail(audit_sessions, actor="pytest")


def wait_finished(
    ids: Collection[int], *, timeout_s: float = 90, cli: CliBackend | None = None
) -> dict[int, LiveJob]:
    """Poll the controller (the host's, or `cli`'s) until every job and array task of `ids`
    has finished."""
    cli = cli or CliBackend()
    deadline = time.monotonic() + timeout_s
    while True:
        jobs = cli.jobs(ids)
        seen = {j.job_id for j in jobs} | {j.array_job_id for j in jobs if j.array_job_id}
        if set(ids) <= seen and all(j.finished for j in jobs):
            return {j.job_id: j for j in jobs}
        if time.monotonic() > deadline:
            states = {j.display_id: (j.state, j.reason) for j in jobs}
            raise AssertionError(f"jobs {sorted(ids)} not finished after {timeout_s} s: {states}")
        time.sleep(0.5)


def pending_behind(cli: CliBackend, comment: str) -> tuple[int, int]:
    """Submit a job that wants every batch node, then a one-node job behind it; return both
    ids once the second is pending (the caller cancels them)."""
    from hpc.slurm.spec import JobSpec

    nodes = [n for n in cli.cluster_state().nodes if "batch" in n.partitions]
    cores = min(n.cpus for n in nodes)

    def spec(name: str, n: int, limit_s: int) -> JobSpec:
        return JobSpec(name=name, command=("sleep", "600"), account="physics",
                       partition="batch", nodes=n, ntasks=n, cpus_per_task=cores,
                       time_limit_s=limit_s)  # fmt: skip

    wide = cli.submit(spec("behind-wide", len(nodes), 900), comment=comment)
    behind = cli.submit(spec("behind-one", 1, 300), comment=comment)
    deadline = time.monotonic() + 30
    while cli.jobs([behind])[0].state != "PENDING":
        if time.monotonic() > deadline:
            scancel(wide, behind)
            raise AssertionError(f"job {behind} never pended behind job {wide}")
        time.sleep(0.5)
    return wide, behind


def scancel(*job_ids: int) -> None:
    subprocess.run(["scancel", *map(str, job_ids)], check=False, capture_output=True)


# ---------------------------------------------------------------- every supported release
@dataclass(frozen=True)
class Release:
    """One real cluster CI runs: the host's 22.05 and the chroot clusters of
    `scripts/slurm-chroot-cluster.sh` (24.11 from Debian trixie, 26.05 from sid)."""

    name: str  # "24.11"
    suite: str | None  # the chroot's Debian suite; None: the host
    nodes: int
    gpus_per_node: int

    @property
    def root(self) -> str | None:
        return f"/var/lib/slurm-{self.suite}" if self.suite else None

    @property
    def prefix(self) -> tuple[str, ...]:
        return ("chroot", self.root) if self.root else ()

    @property
    def rest_url(self) -> str:
        return f"unix:{self.root or ''}/run/slurmrestd/slurmrestd.sock"

    @property
    def up_command(self) -> str:
        if self.suite is None:
            return "sudo scripts/slurm-dev-cluster.sh up"
        return f"sudo scripts/slurm-chroot-cluster.sh up {self.suite}"

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.prefix, *argv], capture_output=True, text=True, timeout=60, check=False
        )

    def cli(self) -> CliBackend:
        return CliBackend(prefix=self.prefix)

    def backend(self, kind: str) -> SlurmBackend:
        if kind == "cli":
            return self.cli()
        from hpc.slurm.rest_backend import RestBackend

        return RestBackend(self.rest_url)

    def env(self, kind: str) -> dict[str, str]:
        """The settings a new user of this cluster sets, for `schedsight slurm ...`."""
        if kind == "cli":
            return {"SCHEDSIGHT_SLURM_BACKEND": "cli",
                    "SCHEDSIGHT_SLURM_COMMAND_PREFIX": " ".join(self.prefix)}  # fmt: skip
        return {"SCHEDSIGHT_SLURM_BACKEND": "rest", "SCHEDSIGHT_SLURM_REST_URL": self.rest_url}

    def why_not_up(self) -> str | None:
        if self.suite is None:
            return _why_not_up()
        if os.geteuid() != 0:
            return f"the Slurm {self.name} chroot cluster needs root (chroot)"
        if not Path(f"{self.root}/usr/sbin/slurmctld").exists():
            return f"no Slurm {self.name} chroot in {self.root}: run `{self.up_command}`"
        ping = self.run("scontrol", "ping")
        if "is UP" not in ping.stdout:
            return f"the Slurm {self.name} cluster is down: run `{self.up_command}`"
        return None


RELEASES = (
    Release("22.05", None, nodes=8, gpus_per_node=4),
    Release("24.11", "trixie", nodes=4, gpus_per_node=2),
    Release("26.05", "sid", nodes=4, gpus_per_node=2),
)


@pytest.fixture(params=RELEASES, ids=lambda r: r.name, scope="module")
def release(request: pytest.FixtureRequest) -> Release:
    """Each real cluster in turn; skips (fails in CI) when one is not up."""
    hold_cluster()
    found: Release = request.param
    _skip_or_fail(found.why_not_up())
    return found

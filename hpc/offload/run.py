"""Run an `OffloadJob` on Slurm: pick its profile, write its scripts, submit (idempotent,
audited, within the remit), wait for the end, and read what it reported.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from hpc.offload.errors import OffloadRunError, ProfileUnavailableError
from hpc.offload.job import OffloadJob
from hpc.offload.launch import BATCH, LAUNCHER, job_spec, render_batch, render_launcher
from hpc.offload.profiles import (
    DiompPaths,
    Profile,
    Runtime,
    Which,
    clang_profile,
    diomp_profile,
    gcc_missing,
    gcc_profile,
)
from hpc.offload.result import RunReport, read_report
from hpc.slurm.actions import AuditSink, submit_idempotent
from hpc.slurm.backend import SlurmBackend
from hpc.slurm.remit import Remit
from hpc.slurm.retry import Backoff, with_retry
from hpc.slurm.state import LiveJob


@dataclass(frozen=True, slots=True)
class Placement:
    """Where and as whom a run goes (account and partition must be inside the remit)."""

    account: str | None
    partition: str | None
    gpu_type: str | None = None


@dataclass(frozen=True, slots=True)
class OffloadRun:
    job: OffloadJob
    job_id: int
    workdir: Path
    state: str  # Slurm's final state: COMPLETED, FAILED, TIMEOUT, ...
    exit_code: int | None
    elapsed_s: int | None  # Slurm's start to end, whole seconds (compile step included)
    report: RunReport
    output: str

    @property
    def succeeded(self) -> bool:
        return self.state == "COMPLETED" and self.exit_code == 0 and self.report.check_ok is True


def profile_for(
    job: OffloadJob, *, arch: str, diomp: DiompPaths, which: Which = shutil.which
) -> Profile | None:
    """The compile profile for a source (None for a binary); raises with what is missing."""
    if job.source is None:
        return None
    if job.runtime is Runtime.DIOMP:
        return diomp_profile(diomp, arch=arch, vendor=job.vendor, which=which)
    if job.runtime is Runtime.CLANG_OPENMP:
        if which("clang") is None:
            raise ProfileUnavailableError(job.runtime.value, ["clang (apt-get install clang)"])
        return clang_profile(arch=arch)
    missing = gcc_missing(job.vendor, mpi=job.mpi is not None, which=which)
    if missing:
        raise ProfileUnavailableError(job.runtime.value, missing)
    return gcc_profile(arch=arch, vendor=job.vendor)


def write_scripts(job: OffloadJob, workdir: Path, profile: Profile | None) -> None:
    """`job.sh` and `launch.sh` in `workdir` (created; readable by the job's user)."""
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)
    for name, text in ((BATCH, render_batch(job, workdir, profile)),
                       (LAUNCHER, render_launcher(job))):  # fmt: skip
        path = workdir / name
        path.write_text(text)
        path.chmod(0o755)


def wait_finished(
    backend: SlurmBackend, job_id: int, *, timeout_s: float, backoff: Backoff, poll_s: float = 1.0
) -> LiveJob:
    deadline = time.monotonic() + timeout_s
    last: LiveJob | None = None
    while True:
        jobs = with_retry(lambda: backend.jobs([job_id]), backoff, what=f"reading job {job_id}")
        if jobs:
            last = jobs[0]
            if last.finished:
                return last
        if time.monotonic() > deadline:
            where = f"{last.state} ({last.reason})" if last else "not in the controller's queue"
            raise OffloadRunError(
                f"job {job_id} did not finish within {timeout_s:.0f} s: {where}; it keeps "
                f"running: `scancel {job_id}` to stop it"
            )
        time.sleep(poll_s)


def run_on_slurm(
    backend: SlurmBackend,
    job: OffloadJob,
    *,
    workdir: Path,
    profile: Profile | None,
    place: Placement,
    remit: Remit,
    audit: AuditSink,
    backoff: Backoff,
    timeout_s: float = 600,
) -> OffloadRun:
    """Write the scripts, submit, wait, and read the report (a failed job is a result too)."""
    write_scripts(job, workdir, profile)
    spec = job_spec(
        job, workdir, account=place.account, partition=place.partition, gpu_type=place.gpu_type
    )
    job_id = submit_idempotent(backend, spec, remit=remit, audit=audit, backoff=backoff).job_id
    done = wait_finished(backend, job_id, timeout_s=timeout_s, backoff=backoff)
    out_path = workdir / f"slurm-{job_id}.out"
    try:
        output = out_path.read_text(errors="replace")
    except FileNotFoundError:
        raise OffloadRunError(
            f"job {job_id} ended {done.state} but wrote no {out_path}: is {workdir} on a file "
            "system the compute nodes share?"
        ) from None
    elapsed = done.end_s - done.start_s if done.start_s and done.end_s else None
    report = read_report(output)
    return OffloadRun(job, job_id, workdir, done.state, done.exit_code, elapsed, report, output)

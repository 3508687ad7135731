"""Slurm's own start estimates: the baseline every predictor is compared with."""

from __future__ import annotations

from hpc.slurm.backend import SlurmBackend, StartEstimate
from hpc.slurm.errors import SlurmError
from hpc.slurm.retry import Backoff, with_retry
from hpc.slurm.spec import JobSpec


def planned_start(backend: SlurmBackend, job_id: int, *, backoff: Backoff) -> StartEstimate:
    """When the scheduler plans to start pending job `job_id` (None: no plan computed yet)."""
    jobs = with_retry(lambda: backend.jobs([job_id]), backoff, what=f"looking up job {job_id}")
    job = next((j for j in jobs if j.job_id == job_id), jobs[0] if jobs else None)
    if job is None:
        raise SlurmError(f"job {job_id} is not in the controller's queue")
    if not job.pending:
        raise SlurmError(
            f"job {job_id} is {job.state.lower()}, not pending: it has no planned start"
        )
    return StartEstimate(job.start_s, "planned", job.job_id, job.node_list, job.partition, job.cpus)


def estimate_start(backend: SlurmBackend, spec: JobSpec, *, backoff: Backoff) -> StartEstimate:
    """`sbatch --test-only`: when and where `spec` would start now (nothing is submitted)."""
    return with_retry(lambda: backend.test_only(spec), backoff, what="estimating the start")

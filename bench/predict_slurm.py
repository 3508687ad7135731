"""Start-time estimates on the dev Slurm cluster: Slurm's own plan against ours.

Submits a burst of short sleep jobs (whole nodes, walltime requests 2-4x their runtime, as
users ask), waits one backfill interval, then records for every pending job Slurm's planned
start, our requested-time plan (the same method, from the live state) and our hybrid plan
(durations = request x this user's median runtime/request ratio in recent accounting
history). When the burst has run, each is compared with the actual start. Only the jobs it
submitted are touched (cancelled if interrupted).

    python bench/predict_slurm.py            # needs `scripts/slurm-dev-cluster.sh up`
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hpc.sim.profile import Profile
from hpc.slurm.backend import SlurmBackend
from hpc.slurm.cli_backend import CliBackend
from hpc.slurm.spec import JobSpec
from hpc.slurm.state import LiveJob

ACCOUNT, PARTITION = "physics", "batch"


def user_ratio(backend: SlurmBackend, user: str) -> float:
    """Median runtime/request of the user's finished jobs in the last two days (1: none)."""
    now = int(time.time())
    ratios = [
        (r.end_s - r.start_s) / r.time_limit_s
        for r in backend.history(start_s=now - 2 * 86_400)
        if r.user == user and r.start_s and r.end_s and r.time_limit_s and r.state == "COMPLETED"
    ]
    return float(np.median(ratios)) if ratios else 1.0


def plans(jobs: list[LiveJob], total: int, now: int, ratio: float) -> dict[str, dict[int, int]]:
    """Our requested-time and hybrid plans for every pending job (priority/basic: FIFO)."""
    running = [j for j in jobs if j.state == "RUNNING" and j.start_s is not None]
    pending = sorted(
        (j for j in jobs if j.state == "PENDING"), key=lambda j: (-j.priority, j.submit_s)
    )
    out: dict[str, dict[int, int]] = {}
    for name, scale in (("sim requested", 1.0), ("sim hybrid", ratio)):
        busy = sum(j.node_count for j in running)

        def duration(j: LiveJob, scale: float = scale) -> int:
            return max(1, int((j.time_limit_s or 3600) * scale))

        releases = [
            (max(now + 1, int(j.start_s or now) + duration(j)), j.node_count) for j in running
        ]
        profile = Profile(now, total - busy, releases)
        starts: dict[int, int] = {}
        for j in pending:
            begin = profile.earliest(j.node_count, duration(j), now)
            profile.add(begin, begin + duration(j), -j.node_count)
            starts[j.job_id] = begin
        out[name] = starts
    return out


def main(n_jobs: int = 12, seed: int = 0) -> int:
    backend = CliBackend()
    state = backend.cluster_state()
    nodes = [n for n in state.nodes if PARTITION in n.partitions]
    cpus = min(n.cpus for n in nodes)
    rng = np.random.default_rng(seed)
    ids: list[int] = []
    try:
        for k in range(n_jobs):
            size = int(rng.choice([1, 2, 4]))
            run_s = int(rng.integers(20, 60))
            spec = JobSpec(
                name=f"predict-eval-{k}",
                command=("sleep", str(run_s)),
                account=ACCOUNT,
                partition=PARTITION,
                nodes=size,
                ntasks=size,
                cpus_per_task=cpus,
                time_limit_s=int(rng.choice([120, 180])),
            )
            ids.append(backend.submit(spec, comment="schedsight bench/predict_slurm.py"))
        time.sleep(8)  # more than bf_interval: the backfill pass has planned the queue
        now = int(time.time())
        snapshot = backend.jobs()
        mine = {j.job_id: j for j in snapshot if j.job_id in ids}
        pending = [i for i in ids if mine[i].state == "PENDING"]
        slurm = {i: mine[i].start_s for i in pending if mine[i].start_s}
        ours = plans(
            [j for j in snapshot if j.partition == PARTITION or j.job_id in ids],
            len(nodes),
            now,
            user_ratio(backend, mine[ids[0]].user),
        )
        deadline = time.time() + 420
        while time.time() < deadline:
            done = backend.jobs(ids)
            if all(j.state not in ("PENDING", "RUNNING", "CONFIGURING") for j in done):
                break
            time.sleep(5)
        actual = {j.job_id: j.start_s for j in backend.jobs(ids) if j.start_s}
    except BaseException:
        if ids:
            subprocess.run(["scancel", *map(str, ids)], check=False)
        raise
    print(
        f"dev Slurm cluster {state.cluster} ({len(nodes)} {PARTITION} nodes): {n_jobs} jobs, "
        f"{len(pending)} pending at the snapshot"
    )
    print(f"{'estimator':<15} {'jobs':>4} {'<=10s':>6} {'<=30s':>6} {'<=60s':>6} {'MAE (s)':>8}")
    for name, est in (("slurm planned", slurm), *ours.items()):
        keys = [i for i in pending if i in est and i in actual]
        if not keys:
            print(f"{name:<15} {0:>4}  (no estimate)")
            continue
        err = np.abs(np.array([est[i] - actual[i] for i in keys], dtype=float))
        print(
            f"{name:<15} {len(keys):>4} {np.mean(err <= 10):>6.0%} {np.mean(err <= 30):>6.0%} "
            f"{np.mean(err <= 60):>6.0%} {np.median(err):>8.0f}"
        )
    return 0


if __name__ == "__main__":
    if os.environ.get("SCHEDSIGHT_NO_SLURM"):
        raise SystemExit(0)
    raise SystemExit(main())

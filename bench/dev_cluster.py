"""Driving the dev Slurm cluster from a bench: its lock, sbatch, and waiting for jobs.

The benches that submit jobs (twin_fidelity.py, predict_live.py, when_live.py) hold the
Slurm tests' lock file (tests/hpc/slurm/conftest.py) while they run, so that they never
share the cluster with the test suite or with each other.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence

from hpc.slurm.cli_backend import CliBackend

LOCK = "/tmp/schedsight-slurm-tests.lock"


@contextlib.contextmanager
def cluster_alone() -> Iterator[None]:
    """Hold the Slurm tests' lock (waiting for it) while the block runs."""
    try:  # open before creating: /tmp refuses O_CREAT on another user's file
        fd = os.open(LOCK, os.O_RDWR)
    except FileNotFoundError:
        fd = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o666)
        os.fchmod(fd, 0o666)  # whatever the umask: the next one may be another user
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for {LOCK} (tests or a bench drive the cluster)", file=sys.stderr)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def sh(*argv: str, check: bool = True) -> str:
    """Run one Slurm command; its stdout (exit with its stderr if it fails and `check`)."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if check and done.returncode != 0:
        sys.exit(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


def job_mix(
    n: int,
    seed: int,
    *,
    name: str,
    runtime_s: tuple[int, int] = (5, 120),
    overask: tuple[float, float] = (1.3, 4.0),
    ntasks: Sequence[int] = (1, 2, 4, 8, 8, 16),
    qos: Sequence[str] = ("normal",),
) -> list[list[str]]:
    """sbatch argument lists of a seeded mix: partition (batch 6 : gpu 3 : debug 1), tasks,
    GPUs, account, QOS, and a `sleep` of `runtime_s` under a time limit `overask` times
    longer (whole minutes, as Slurm keeps them: most jobs run much shorter than they ask)."""
    rng = random.Random(seed)
    jobs = []
    for k in range(n):
        runtime = rng.randint(*runtime_s)
        limit_min = max(1, -(-int(runtime * rng.uniform(*overask)) // 60))
        part = rng.choices(["batch", "gpu", "debug"], weights=[6, 3, 1])[0]
        args = [f"--job-name={name}{k}", f"--partition={part}", f"--time={limit_min}",
                f"--account={rng.choice(['physics', 'chemistry'])}",
                f"--qos={rng.choice(qos)}", f"--ntasks={rng.choice(ntasks)}",
                "--output=/dev/null", "--chdir=/tmp"]  # fmt: skip
        if part == "gpu":
            args.append(f"--gres=gpu:{rng.choice([1, 1, 2, 4])}")
        jobs.append([*args, f"--wrap=sleep {runtime}"])
    return jobs


def submit_all(mix: Sequence[Sequence[str]], spread_s: float) -> list[int]:
    """sbatch each argument list of `mix`, spread evenly over `spread_s`; the job ids."""
    ids = []
    for args in mix:
        ids.append(int(sh("sbatch", "--parsable", *args).strip().split(";")[0]))
        time.sleep(spread_s / len(mix))
    return ids


def wait_done(cli: CliBackend, ids: list[int], timeout_s: float) -> None:
    """Wait until every job of `ids` has finished (exit if that takes over `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        # A job the controller no longer lists ended more than MinJobAge ago.
        left = sum(not j.finished for j in cli.jobs(ids))
        if not left:
            return
        print(f"  {left} jobs not finished", file=sys.stderr)
        time.sleep(15)
    sys.exit(f"jobs not finished after {timeout_s:.0f} s")


def cancel(ids: Sequence[int]) -> None:
    """scancel the jobs of `ids` (those that already ended are left as they are)."""
    if ids:
        subprocess.run(["scancel", *map(str, ids)], check=False, capture_output=True)

"""`schedsight when` latency on the dev Slurm cluster, once the model is trained.

Imports the cluster's accounting history and its site into a fresh store, submits a job that
wants every batch node and a one-node job behind it, then times the answer for the pending
one: the first (which trains the model on the history) and the next ones (the model kept, as
in the portal API's server or once trained models persist). Prints the answer too. Only the
two jobs it submitted are touched (cancelled at the end). It drives the cluster alone (the
Slurm tests' lock), as the other benches that submit jobs do.

    python bench/when_live.py            # needs `scripts/slurm-dev-cluster.sh up`
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dev_cluster import cluster_alone
from db.session import sqlite_url
from db.store import Store
from hpc.slurm.cli_backend import CliBackend
from hpc.slurm.retry import Backoff
from schedsight.cli import main as schedsight
from schedsight.live import LiveSource
from tests.hpc.slurm.conftest import pending_behind

WARM_RUNS = 10


def main() -> int:
    data = Path(tempfile.mkdtemp(prefix="when-bench-"))
    os.environ["SCHEDSIGHT_DATA_DIR"] = str(data)
    os.environ["SCHEDSIGHT_DATABASE_URL"] = ""
    if schedsight(["-q", "slurm", "import", "--days", "30"]) or schedsight(
        ["-q", "site", "import"]
    ):
        return 1
    cli = CliBackend()
    ids = pending_behind(cli, "bench/when_live.py")
    try:
        store = Store.open(sqlite_url(data / "schedsight.db"))
        source = LiveSource(cli, Backoff(attempts=3, first_s=0.5, factor=2.0, max_s=4.0), store)
        started = time.perf_counter()
        answer = source.answer(ids[1])
        first_s = time.perf_counter() - started
        warm = []
        for _ in range(WARM_RUNS):
            started = time.perf_counter()
            source.answer(ids[1])
            warm.append(time.perf_counter() - started)
    finally:
        subprocess.run(["scancel", *map(str, ids)], check=False)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")  # fmt: skip
    print(f"model: {answer.model_note}")
    print(f"first answer (trains the model): {first_s:.2f} s")
    print(f"answer once trained, {WARM_RUNS} runs: median {statistics.median(warm):.3f} s, "
          f"max {max(warm):.3f} s")  # fmt: skip
    print()
    print("\n".join(answer.lines()))
    return 0


if __name__ == "__main__":
    if os.environ.get("SCHEDSIGHT_NO_SLURM"):
        raise SystemExit(0)
    with cluster_alone():
        raise SystemExit(main())

"""How long a start-time model takes to train, and how soon `schedsight predict` answers.

For each trace: training on the first 70% (one thread; features, wait model with its 19
quantile levels, runtime model, held-out outcomes, each timed), then `schedsight predict
--trace TRACE --job N` twice in fresh processes on an empty SQLite database: the first call
trains and stores the model, the second loads it (targets: training < 60 s on 120,000 jobs,
second answer < 5 s). Traces: `lcg` is the shared 188,041-line LCG grid log (187,520 jobs
after cleaning; its replayed history has no waits, so its wait models learn little), `gen`
120,000 jobs from the project's generator on 256 processors with arrivals twice as dense as
the model's, replayed under multifactor:easy (jobs queue for hours).

    python bench/predict_speed.py                    # lcg and gen
    python bench/predict_speed.py --traces gen --threads 2
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hpc.predict.history import history_of  # noqa: E402
from hpc.predict.predictor import Predictor  # noqa: E402
from hpc.predict.quantile import TreeParams  # noqa: E402
from hpc.workload.loading import load_workload  # noqa: E402
from hpc.workload.lublin import LublinParams, generate  # noqa: E402
from hpc.workload.swf import write_swf  # noqa: E402

TRACES = Path(os.environ.get("SCHEDSIGHT_TRACES_DIR", ROOT.parent / "shared" / "traces"))
STEPS = ("features", "wait model", "run model", "held-out outcomes")


def trace_file(name: str, folder: Path) -> Path | None:
    if name == "gen":
        path = folder / "generated-120k.swf"
        params = LublinParams(interarrival_scale=0.5)
        write_swf(generate(120_000, seed=1, procs=256, params=params), path)
        return path
    path = TRACES / "LCG.swf.gz"
    if not path.exists():
        print(f"skip {name}: {path} not found (shared traces live in ../shared/traces)")
        return None
    return path


def train_seconds(path: Path, threads: int) -> tuple[int, float, list[float], int]:
    """Jobs, training seconds, each step's seconds, and a test job's number."""
    history = history_of(load_workload(path))
    marks = [time.perf_counter()]
    Predictor.train(
        history,
        history.split(0.7),
        TreeParams(threads=threads),
        on_progress=lambda n: marks.append(time.perf_counter()),
    )
    steps = [b - a for a, b in itertools.pairwise(marks)]
    job = int(history.jobs.job_id[int(len(history) * 0.85)])
    return len(history), marks[-1] - marks[0], steps, job


def answer_seconds(path: Path, job: int, data: Path) -> tuple[float, str]:
    """Wall seconds of one `schedsight predict --job` process, and its last stderr line."""
    env = {**os.environ, "SCHEDSIGHT_DATA_DIR": str(data), "SCHEDSIGHT_DATABASE_URL": ""}
    argv = [sys.executable, "-m", "schedsight", "predict", "--trace", str(path), "--job", str(job)]
    t0 = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    took = time.perf_counter() - t0
    return took, done.stderr.strip().splitlines()[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", default="lcg,gen", help="comma-separated: lcg, gen")
    parser.add_argument("--threads", type=int, default=1, help="LightGBM threads for training")
    args = parser.parse_args()
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.traces.split(","):
            path = trace_file(name.strip(), Path(tmp))
            if path is None:
                continue
            jobs, total, steps, job = train_seconds(path, args.threads)
            parts = ", ".join(f"{s} {t:.1f}" for s, t in zip(STEPS, steps, strict=True))
            print(f"{name}: {jobs:,} jobs; training {total:.1f} s on {args.threads} thread(s)")
            print(f"{name}:   ({parts} s; target < 60 s)")
            data = Path(tmp) / f"data-{name}"
            first, said = answer_seconds(path, job, data)
            print(f"{name}: first `schedsight predict --job {job}` {first:.1f} s ({said})")
            second, said = answer_seconds(path, job, data)
            met = "met" if second < 5 else "not met"
            print(f"{name}: second {second:.1f} s ({said}); target < 5 s: {met}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

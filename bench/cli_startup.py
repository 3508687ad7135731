"""CLI start-up: how long `schedsight --help` and a simulate of a real trace take as whole
processes, and which heavy libraries the simulate loaded (it should load none).

Targets: `--help` under 0.5 s; the simulate below under 1.5 s; none of torch, lightgbm,
pandas, streamlit, openai loaded. Runs this checkout's code (PYTHONPATH); the trace comes
from ../shared/traces (or SCHEDSIGHT_TRACES_DIR) and is skipped with a message when absent.

    python bench/cli_startup.py              # 7 runs each, medians
    python bench/cli_startup.py --runs 15
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRACES = Path(os.environ.get("SCHEDSIGHT_TRACES_DIR", ROOT.parent / "shared" / "traces"))
TRACE = TRACES / "LCG.swf.gz"
SIMULATE = ["simulate", str(TRACE), "--procs", "24515", "--policy", "fcfs", "--backfill", "easy",
            "--json"]  # fmt: skip
HEAVY = ("torch", "lightgbm", "pandas", "streamlit", "openai", "sqlalchemy", "fastapi",
         "matplotlib", "ortools")  # fmt: skip


def _env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(ROOT)}


def wall_s(argv: list[str], runs: int) -> list[float]:
    """Wall time of `python -m schedsight ARGV`, once per run."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "schedsight", *argv], env=_env(), cwd=ROOT,
                       check=True, capture_output=True)  # fmt: skip
        times.append(time.perf_counter() - started)
    return times


def heavy_loaded(argv: list[str]) -> list[str]:
    """The heavy top-level modules a run imported (from `python -X importtime`)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "schedsight", *argv],
                          env=_env(), cwd=ROOT, check=True, capture_output=True,
                          text=True)  # fmt: skip
    names = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    return sorted(h for h in HEAVY if h in names)


def _figure(name: str, times: list[float], target_s: float) -> None:
    median = statistics.median(times)
    verdict = "ok" if median < target_s else "OVER TARGET"
    print(f"{name:<44} median {median:5.2f} s  (min {min(times):.2f}, max {max(times):.2f}; "
          f"target < {target_s} s: {verdict})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, {args.runs} runs each")  # fmt: skip
    _figure("schedsight --help", wall_s(["--help"], args.runs), 0.5)
    if not TRACE.is_file():
        print(f"simulate: skipped, {TRACE} is absent (set SCHEDSIGHT_TRACES_DIR)")
        return
    _figure("schedsight simulate LCG fcfs:easy --json", wall_s(SIMULATE, args.runs), 1.5)
    print(f"heavy modules simulate loaded: {', '.join(heavy_loaded(SIMULATE)) or 'none'}")


if __name__ == "__main__":
    main()

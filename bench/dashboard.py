"""Dashboard targets: a what-if on 10,000 jobs with four policies (< 10 s) and the first page
load in a real browser after the server is up (< 5 s).

The what-if is timed as the page runs it: generate the workload, replay it under each policy,
build the comparison, the Pareto front and the per-user fairness. The page load starts
`schedsight dashboard` and opens it in Debian's chromium (skipped when absent).

    python bench/dashboard.py                # both figures
    python bench/dashboard.py --no-browser   # the what-if only
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
# This file's own name would hide the `dashboard` package: import from the checkout instead.
sys.path[0] = str(ROOT)
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]  # fmt: skip


def whatif_s(jobs: int, repeats: int) -> list[float]:
    from dashboard.replay import generated_workload
    from dashboard.scenario import WhatIfRequest, run_whatif

    times = []
    for seed in range(repeats):
        t0 = time.perf_counter()
        request = WhatIfRequest(jobs=jobs, seed=seed)
        outcome = run_whatif(request, generated_workload(jobs, seed, request.procs))
        outcome.comparison(), outcome.fairness(), outcome.user_wait_fairness()
        times.append(time.perf_counter() - t0)
    return times


def first_load_s(loads: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "SCHEDSIGHT_DATA_DIR": data, "SCHEDSIGHT_DATABASE_URL": ""}
        proc = subprocess.Popen([sys.executable, "-m", "schedsight", "dashboard", "--port",
                                 str(port)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            while True:
                try:
                    if httpx.get(f"{url}/_stcore/health", timeout=1).text == "ok":
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            times = []
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
                for _ in range(loads):
                    page = browser.new_context().new_page()
                    t0 = time.perf_counter()
                    page.goto(url)
                    page.get_by_text("Cluster and queue").wait_for(timeout=60_000)
                    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=60_000)
                    times.append(time.perf_counter() - t0)
                    page.context.close()
                browser.close()
            return times
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    load = os.getloadavg()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {load[0]:.1f}, Python {platform.python_version()}")  # fmt: skip
    times = whatif_s(args.jobs, args.repeats)
    print(f"what-if, {args.jobs} jobs x 4 policies: best {min(times):.2f} s, "
          f"worst {max(times):.2f} s (target < 10 s)")  # fmt: skip
    if args.no_browser or not Path(CHROMIUM).exists():
        print("first page load: skipped (--no-browser or no /usr/bin/chromium)")
        return
    loads = first_load_s(args.repeats)
    print(f"first page load (cold server, then warm): {loads[0]:.2f} s, then "
          f"{', '.join(f'{t:.2f}' for t in loads[1:])} s (target < 5 s)")  # fmt: skip


if __name__ == "__main__":
    main()

"""Simulator throughput and peak memory on the large shared traces and generated workloads.

Each (workload, policy) runs in its own process so that peak memory is that replay's own.
Prints jobs simulated per second of wall time and of the process's CPU time (simulation
only; reading and cleaning are timed apart; on a shared machine the CPU figure is the one to
compare) and the peak resident memory of the process. Traces come from ../shared/traces (or
SCHEDSIGHT_TRACES_DIR); a missing trace is skipped with a message.

The site-model inputs replay through `hpc.sim.site_engine` (partitions, GPUs, QOS): site200k
is `hpc.sim.site_workload`'s generated 200,000-job, three-partition workload (site200k-topo:
the same site with a switch tree, multi-node jobs placed by topology), lcg-site the LCG trace
on a one-partition site. After the site replay (and its peak memory), the same
process replays the same jobs on the one-pool engine and prints its jobs per second ("pool
jobs/s") and how many times faster than the site replay it is ("pool x"). Site inputs run
FCFS x {none, easy} unless --policies says otherwise, on each path of --paths: "compiled"
(the Cython build of `python -m hpc.sim.native`, which must exist) and "pure" (the .py
modules, SCHEDSIGHT_SIM_COMPILED=0); a line after both gives compiled over pure, same run.
The load average is printed before and after: on a shared machine, compare ratios.

    python bench/simulate.py                 # FCFS x {none, easy, conservative}, all inputs
    python bench/simulate.py --all-orders    # every order x every backfill mode
    python bench/simulate.py --inputs kth --policies sjf:easy,wfp3:conservative
    python bench/simulate.py --inputs site200k,lcg-site,site1m --policies fcfs:easy
    python bench/simulate.py --inputs site200k --paths pure
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

from hpc.sim.policy import backfill_names, order_names

ROOT = Path(__file__).resolve().parents[1]

TRACES = Path(os.environ.get("SCHEDSIGHT_TRACES_DIR", ROOT.parent / "shared" / "traces"))
INPUTS = {
    "lcg": "LCG.swf.gz",
    "kth": "KTH-SP2-1996-2.1-cln.swf.gz",
    "gen1m": "generated: Lublin-Feitelson, 1,000,000 jobs, 256 procs, seed 1",
    "site200k": "generated: hpc.sim.site_workload, 200,000 jobs, 3 partitions, seed 1",
    "site200k-topo": "site200k on a switch tree (topology-aware placement)",
    "lcg-site": "LCG.swf.gz on a one-partition site",
    "site1m": "generated: hpc.sim.site_workload, 1,000,000 jobs, 3 partitions, seed 1",
}
SITE_INPUTS = {  # generated job counts
    "site200k": 200_000,
    "site200k-topo": 200_000,
    "lcg-site": 0,
    "site1m": 1_000_000,
}
TRACE_FILES = {"lcg": "LCG.swf.gz", "kth": "KTH-SP2-1996-2.1-cln.swf.gz", "lcg-site": "LCG.swf.gz"}
SITE_POLICIES = ("fcfs:none", "fcfs:easy")
PATHS = ("compiled", "pure")
ORDERS = order_names()
MODES = backfill_names()


def run_site(name: str, policy_text: str) -> dict[str, object]:
    """Replay a site-model input once on the site engine, then on the one-pool engine."""
    from hpc.model import Machine
    from hpc.sim import Policy, simulate, site_engine
    from hpc.sim.native.finder import compiled
    from hpc.sim.site_engine import simulate_site
    from hpc.sim.site_jobs import SiteDemand
    from hpc.sim.site_workload import generated_workload
    from hpc.site.model import Site
    from hpc.workload.cleaning import Estimate, clean, machine_for
    from hpc.workload.swf import read_swf

    t0 = time.perf_counter()
    if SITE_INPUTS[name]:
        switched = name.endswith("-topo")
        site, jobs, demand = generated_workload(SITE_INPUTS[name], seed=1, switched=switched)
    else:
        trace = read_swf(TRACES / TRACE_FILES[name])
        machine = machine_for(trace)
        jobs, _ = clean(trace, machine=machine, estimate=Estimate.REQUESTED)
        del trace
        site = Site.one_partition(machine.units)
        demand = SiteDemand.plain(jobs, site)
    load_s = time.perf_counter() - t0
    policy = Policy.parse(policy_text)
    cpu0 = time.process_time()
    result = simulate_site(jobs, site, policy, demand)
    cpu_s = time.process_time() - cpu0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sim_s = result.result.wall_s
    del result
    pool = simulate(jobs, Machine.procs_only(site.totals()["cores"]), policy)
    return {
        "input": name,
        "policy": policy_text,
        "path": "compiled" if compiled(site_engine) else "pure",
        "jobs": len(jobs),
        "load_s": round(load_s, 2),
        "sim_s": round(sim_s, 3),
        "jobs_per_s": round(len(jobs) / sim_s),
        "cpu_s": round(cpu_s, 3),
        "jobs_per_cpu_s": round(len(jobs) / max(cpu_s, 1e-9)),
        "peak_mb": round(peak_mb),
        "pool_jobs_per_s": round(len(jobs) / pool.wall_s),
        "pool_ratio": round(sim_s / max(pool.wall_s, 1e-9), 1),
    }


def run_one(name: str, policy_text: str) -> dict[str, object]:
    """Load one input, replay it once under one policy; figures as a dict."""
    if name in SITE_INPUTS:
        return run_site(name, policy_text)
    from hpc.model import Machine
    from hpc.sim import Policy, simulate
    from hpc.workload.cleaning import Estimate, clean, machine_for
    from hpc.workload.lublin import generate
    from hpc.workload.swf import read_swf

    t0 = time.perf_counter()
    if name == "gen1m":
        trace = generate(1_000_000, seed=1, procs=256)
        machine = Machine.procs_only(256)
    else:
        trace = read_swf(TRACES / TRACE_FILES[name])
        machine = machine_for(trace)
    jobs, _ = clean(trace, machine=machine, estimate=Estimate.REQUESTED)
    del trace
    load_s = time.perf_counter() - t0
    cpu0 = time.process_time()
    result = simulate(jobs, machine, Policy.parse(policy_text))
    cpu_s = time.process_time() - cpu0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "input": name,
        "policy": policy_text,
        "jobs": len(jobs),
        "load_s": round(load_s, 2),
        "sim_s": round(result.wall_s, 3),
        "jobs_per_s": round(len(jobs) / result.wall_s),
        "cpu_s": round(cpu_s, 3),
        "jobs_per_cpu_s": round(len(jobs) / max(cpu_s, 1e-9)),
        "peak_mb": round(peak_mb),
    }


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}; {os.cpu_count()} cores; Python {platform.python_version()}; one core used"


def load_line() -> str:
    return "load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def print_row(r: dict[str, object]) -> None:
    pool = f"{r['pool_jobs_per_s']:>10,} {r['pool_ratio']:>7}" if "pool_ratio" in r else ""
    print(
        f"{r['input']:13} {r['policy']:20} {r.get('path', '-'):8} {r['jobs']:>9,} "
        f"{r['sim_s']:>8.2f} {r['jobs_per_s']:>10,} {r['cpu_s']:>8.2f} "
        f"{r['jobs_per_cpu_s']:>10,} {r['peak_mb']:>8,} {pool}",
        flush=True,
    )


def replay(name: str, policy: str, path: str | None) -> dict[str, object] | None:
    """One (input, policy) replay in its own process (`path`: the site engine's path)."""
    env = dict(os.environ)
    if path is not None:
        env["SCHEDSIGHT_SIM_COMPILED"] = "1" if path == "compiled" else "0"
    out = subprocess.run(
        [sys.executable, __file__, "--one", name, policy],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if out.returncode != 0:
        print(f"{name:13} {policy:20} FAILED: {out.stderr.strip().splitlines()[-1:]}")
        return None
    r: dict[str, object] = json.loads(out.stdout)
    if path is not None and r["path"] != path:
        print(f"{name:13} {policy:20} {path}: not built (python -m hpc.sim.native); skipped")
        return None
    return r


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--inputs",
        default="lcg,kth,gen1m,site200k,lcg-site",
        help=f"comma list of {', '.join(INPUTS)}",
    )
    parser.add_argument("--policies", help="comma list of ORDER:BACKFILL")
    parser.add_argument("--all-orders", action="store_true", help="every order x backfill mode")
    parser.add_argument(
        "--paths",
        default=",".join(PATHS),
        help="site inputs: comma list of compiled (the Cython build), pure (the .py modules)",
    )
    parser.add_argument("--one", nargs=2, metavar=("INPUT", "POLICY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one)))
        return 0

    if args.policies:
        policies = args.policies.split(",")
    else:
        orders = ORDERS if args.all_orders else ("fcfs",)
        policies = [f"{o}:{m}" for o in orders for m in MODES]
    paths = args.paths.split(",")
    if not paths or any(p not in PATHS for p in paths):
        parser.error(f"--paths: a comma list of {', '.join(PATHS)}")
    print(f"machine: {machine_line()}")
    print(load_line())
    print(
        f"{'input':13} {'policy':20} {'path':8} {'jobs':>9} {'sim s':>8} {'jobs/s':>10}"
        f" {'cpu s':>8} {'jobs/cpu s':>10} {'peak MB':>8} {'pool jobs/s':>10} {'pool x':>7}"
    )
    for name in args.inputs.split(","):
        if name not in INPUTS:
            parser.error(f"unknown input {name!r}: choose from {', '.join(INPUTS)}")
        if name in TRACE_FILES and not (TRACES / TRACE_FILES[name]).exists():
            missing = TRACES / TRACE_FILES[name]
            print(f"{name:13} skipped: {missing} not found (shared traces absent)")
            continue
        site = name in SITE_INPUTS
        for policy in SITE_POLICIES if site and not args.policies else policies:
            rows = [r for path in (paths if site else [None]) if (r := replay(name, policy, path))]
            for r in rows:
                print_row(r)
            by_path = {r.get("path"): r for r in rows}
            if "compiled" in by_path and "pure" in by_path:
                c, p = by_path["compiled"], by_path["pure"]
                cpu = float(p["cpu_s"]) / max(float(c["cpu_s"]), 1e-9)  # type: ignore[arg-type]
                wall = float(p["sim_s"]) / max(float(c["sim_s"]), 1e-9)  # type: ignore[arg-type]
                print(f"{'':13} {policy:20} compiled over pure: {cpu:.2f}x CPU, {wall:.2f}x wall")
    print(load_line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

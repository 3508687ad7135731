"""Whether the site replay still gives the same results: a hash per (input, policy) run of
every job's start, end, pending reason and placement, saved once and checked after changes.

Speed work on `hpc.sim.site_engine` must not change a single result. This replays site200k
(the bench's generated 200,000-job, three-partition workload), site-small (a 20,000-job
generated workload with maintenance reservations, a partition time limit, priority tiers,
node counts, tighter QOS limits and multifactor weights, so every path of the engine runs)
and lcg-site (LCG on a one-partition site; skipped when the trace is absent) under the
policies below, and prints one SHA-256 per run.

    python bench/site_equivalence.py --save    # record the hashes (bench/site_equivalence.json)
    python bench/site_equivalence.py           # replay and compare; exit 1 on any difference
    python bench/site_equivalence.py --cases site-small   # only runs whose name contains this
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from functools import cache
from pathlib import Path

import numpy as np

from hpc.model import JobTable
from hpc.sim import Policy
from hpc.sim.site_engine import SiteResult, simulate_site
from hpc.sim.site_jobs import SiteDemand
from hpc.sim.site_workload import generated_workload
from hpc.site.model import PriorityWeights, QosSpec, Reservation, Site

HERE = Path(__file__).resolve().parent
HASHES = HERE / "site_equivalence.json"
TRACE = HERE.parent.parent / "shared" / "traces" / "LCG.swf.gz"
POLICIES = ("fcfs:none", "fcfs:easy", "fcfs:conservative", "sjf:easy", "multifactor:easy")
CASES = (
    *(("site200k", p) for p in POLICIES),
    *(("site-small", p) for p in POLICIES),
    ("lcg-site", "fcfs:easy"),
)
Workload = tuple[Site, JobTable, SiteDemand]


def small_workload() -> Workload:
    """20,000 generated jobs on the generated site with everything the engine handles on top:
    maintenance reservations over part of the trace, a 2-day limit on fat (priority tier 2),
    node counts for a fifth of the multi-node batch jobs, QOS limits on jobs per user, per
    account and for the whole QOS, and multifactor weights (so multifactor reorders)."""
    site, jobs, demand = generated_workload(20_000, seed=3)
    t = np.quantile(jobs.submit_s, [0.2, 0.25, 0.5, 0.6, 0.8]).astype(int).tolist()
    reservations = (
        Reservation("cpu-maint", ("cpu06", "cpu07"), t[0], t[1], maintenance=True),
        Reservation("gpu-maint", ("gpu03",), t[2], t[3], maintenance=True),
        Reservation("fat-maint", ("fat01",), t[3], t[4], maintenance=True),
    )
    batch, gpu, fat = site.partitions
    qos = {
        "normal": QosSpec("normal", max_tres_per_user={"cpu": 192}, max_jobs_per_user=6,
                          max_tres_per_account={"cpu": 320}),
        "high": QosSpec("high", priority=100, max_tres_per_user={"cpu": 128},
                        grp_tres={"cpu": 160, "gres/gpu": 8}),
    }  # fmt: skip
    weights = PriorityWeights(age=1000, fairshare=2000, job_size=100, qos=500,
                              tres={"gres/gpu": 300}, decay_half_life_s=86400)  # fmt: skip
    site = dataclasses.replace(
        site,
        partitions=(batch, gpu, dataclasses.replace(fat, max_time_s=2 * 86400, priority_tier=2)),
        qos=qos,
        reservations=reservations,
        weights=weights,
    )
    rng = np.random.Generator(np.random.PCG64(7))
    multi = (demand.partition == 0) & (jobs.procs > 32) & (rng.random(len(jobs)) < 0.2)
    nodes = np.where(multi, -(-jobs.procs // 32), 0).astype(np.int64)
    return site, jobs, dataclasses.replace(demand, nodes=nodes)


def lcg_workload() -> Workload:
    from hpc.workload.cleaning import Estimate, clean, machine_for
    from hpc.workload.swf import read_swf

    trace = read_swf(TRACE)
    machine = machine_for(trace)
    jobs, _ = clean(trace, machine=machine, estimate=Estimate.REQUESTED)
    site = Site.one_partition(machine.units)
    return site, jobs, SiteDemand.plain(jobs, site)


@cache
def workload(name: str) -> Workload:
    if name == "site200k":
        return generated_workload(200_000, seed=1)
    if name == "site-small":
        return small_workload()
    return lcg_workload()


def digest(out: SiteResult) -> str:
    """SHA-256 of every job's start, end, reason and placement (nodes, cores, GPUs, memory)."""
    h = hashlib.sha256()
    h.update(out.result.start_s.astype(np.int64).tobytes())
    h.update(out.result.end_s.astype(np.int64).tobytes())
    h.update("\n".join(out.reasons).encode())
    for place in out.placements:
        if place is None:
            h.update(b"-")
            continue
        for values in (place.nodes, place.cores, place.gpus, place.mem_mb):
            h.update(values.astype(np.int64).tobytes())
            h.update(b"|")
    return h.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help=f"write the hashes to {HASHES.name}")
    parser.add_argument("--cases", default="", help="only runs whose 'input policy' has this")
    args = parser.parse_args()
    saved: dict[str, str] = json.loads(HASHES.read_text()) if HASHES.exists() else {}
    if not args.save and not saved:
        parser.error(f"no saved hashes in {HASHES}: run with --save first")
    found, differ = dict(saved), []
    for name, policy in CASES:
        key = f"{name} {policy}"
        if args.cases not in key:
            continue
        if name == "lcg-site" and not TRACE.exists():
            print(f"{key:32} skipped: {TRACE} not found")
            continue
        site, jobs, demand = workload(name)
        t0 = time.perf_counter()
        out = simulate_site(jobs, site, Policy.parse(policy), demand)
        wall_s = time.perf_counter() - t0
        found[key] = digest(out)
        verdict = "saved" if args.save else ("same" if saved.get(key) == found[key] else "DIFFERS")
        if verdict == "DIFFERS":
            differ.append(key)
        print(f"{key:32} {len(jobs):>8,} jobs {wall_s:7.2f} s  {found[key][:16]}  {verdict}")
        sys.stdout.flush()
    if args.save:
        HASHES.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
    elif differ:
        print(f"{len(differ)} run(s) differ from {HASHES.name}: {', '.join(differ)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

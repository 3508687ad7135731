"""How close the site twin comes to what Slurm really did, on the same jobs.

Submits a seeded mix of real jobs to the dev cluster (scripts/slurm-dev-cluster.sh): three
partitions (batch, gpu, debug), CPU and GPU jobs, two QOS (normal, and a temporary
"twinlow" with a per-user CPU limit), two accounts, runtimes of 5-120 s, most much shorter
than their time limit. It waits for all of them, reads the site (`site import`'s reader)
and the accounting (`slurm import`'s), replays the same jobs in the twin, and prints per-job
start-time error (median and p90, in seconds and as a share of the mean real wait) and the
Kendall tau of the start order.

    python bench/twin_fidelity.py                 # 220 jobs (about 10 minutes)
    python bench/twin_fidelity.py --jobs 60       # a quick look
    python bench/twin_fidelity.py --dump run.json # keep the site and records of the run
    python bench/twin_fidelity.py --replay run.json   # the twin again on a kept run

It drives the dev cluster alone (the Slurm tests' lock file) and removes its QOS afterwards.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dev_cluster import cluster_alone, job_mix, sh, submit_all, wait_done
from hpc.sim.policy import Policy
from hpc.sim.site_engine import simulate_site
from hpc.sim.site_mapping import demand_from_trace
from hpc.sim.site_policy import own_policy
from hpc.site.model import Site
from hpc.slurm.accounting import AccountingRecord, job_resources, to_swf
from hpc.slurm.cli_backend import CliBackend
from hpc.slurm.site_reader import read_site
from hpc.workload.loading import prepare_workload

QOS = "twinlow"


def make_qos() -> None:
    sh("sacctmgr", "-i", "add", "qos", QOS, check=False)
    sh("sacctmgr", "-i", "modify", "qos", QOS, "set", "MaxTRESPerUser=cpu=24", "Priority=0")
    for account in ("physics", "chemistry"):
        sh("sacctmgr", "-i", "modify", "account", account, "set", f"qos+={QOS}", check=False)
        sh("sacctmgr", "-i", "modify", "user", "root", "where", f"account={account}", "set",
           f"qos+={QOS}", check=False)  # fmt: skip


def drop_qos() -> None:
    for account in ("physics", "chemistry"):
        sh("sacctmgr", "-i", "modify", "user", "root", "where", f"account={account}", "set",
           f"qos-={QOS}", check=False)  # fmt: skip
        sh("sacctmgr", "-i", "modify", "account", account, "set", f"qos-={QOS}", check=False)
    sh("sacctmgr", "-i", "delete", "qos", QOS, check=False)


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-b of two orders (ties counted as neither)."""
    x, y = np.asarray(a), np.asarray(b)
    dx = np.sign(x[:, None] - x[None, :])
    dy = np.sign(y[:, None] - y[None, :])
    upper = np.triu_indices(len(x), 1)
    s, tx, ty = (dx * dy)[upper].sum(), (dx != 0)[upper].sum(), (dy != 0)[upper].sum()
    return float(s / np.sqrt(tx * ty)) if tx and ty else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=220)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--spread-s", type=float, default=60.0, help="submit over this long")
    parser.add_argument("--dump", type=Path, help="write the run's site and records here")
    parser.add_argument("--replay", type=Path, help="no jobs: replay a run --dump wrote")
    args = parser.parse_args()
    if args.replay:
        kept = json.loads(args.replay.read_text())
        report(Site.from_json(kept["site"]), [AccountingRecord(**r) for r in kept["records"]])
        return
    site, records = run_jobs(args)
    if args.dump:
        kept = {"site": site.to_json(), "records": [dataclasses.asdict(r) for r in records]}
        args.dump.write_text(json.dumps(kept))
    report(site, records)


def run_jobs(args: argparse.Namespace) -> tuple[Site, list[AccountingRecord]]:
    """Submit the mix, wait, and read the site and the jobs' accounting records."""
    cli = CliBackend()
    with cluster_alone():
        return _run_jobs(cli, args)


def _run_jobs(cli: CliBackend, args: argparse.Namespace) -> tuple[Site, list[AccountingRecord]]:
    make_qos()
    try:
        started = int(time.time()) - 5
        mix = job_mix(args.jobs, args.seed, name="twin", qos=("normal", "normal", QOS))
        ids = submit_all(mix, args.spread_s)
        print(f"submitted {len(ids)} jobs ({ids[0]}..{ids[-1]}); waiting", file=sys.stderr)
        wait_done(cli, ids, timeout_s=3600)
        time.sleep(5)  # slurmdbd records the last ends a moment later
        site = read_site(cli, name="fidelity")
        mine = set(ids)
        records = [r for r in cli.history(start_s=started) if r.job_id in mine and r.started]
    finally:
        drop_qos()
    return site, records


def report(site: Site, records: list[AccountingRecord]) -> None:
    """Replay the jobs in the twin of `site`; print how far its starts are from Slurm's,
    under the site's own policy (the headline) and under EASY for comparison."""
    trace = to_swf(records, source="bench:twin", cluster=site.name)
    loaded = prepare_workload(trace, procs=site.totals()["cores"])
    demand = demand_from_trace(loaded.jobs, trace.header, site,
                               {r.job_number: r for r in job_resources(records)})  # fmt: skip
    t0 = int(trace.header.keys["UnixStartTime"])
    real = {r.job_id: (r.start_s or 0) - t0 for r in records}
    real_wait = {r.job_id: r.wait_s or 0 for r in records}
    job_ids = loaded.jobs.job_id.tolist()
    enforced = "enforced" if site.scheduling.limits_enforced else "not enforced"
    print(f"jobs: {len(records)} ran on {site.name} (Slurm {site.release}, "
          f"{site.scheduling.scheduler}, QOS limits {enforced})")  # fmt: skip
    waits = [real_wait[j] for j in job_ids]
    print(f"real wait: mean {statistics.mean(waits):.1f} s, median "
          f"{statistics.median(waits):.1f} s, max {max(waits)} s")  # fmt: skip
    own, easy = own_policy(site), Policy.parse("fcfs:easy")
    for policy in (own,) if easy.name == own.name else (own, easy):
        replay = simulate_site(loaded.jobs, site, policy, demand)
        sim = dict(zip(job_ids, replay.result.start_s.tolist(), strict=True))
        both = [j for j in job_ids if sim[j] >= 0]
        errors = [abs(sim[j] - real[j]) for j in both]
        mean_wait = statistics.mean(real_wait[j] for j in both)
        tau = kendall_tau([real[j] for j in both], [sim[j] for j in both])
        median, p90 = statistics.median(errors), float(np.percentile(errors, 90))
        label = "site's own policy" if policy is own else "for comparison"
        print(f"twin {policy.name} ({label}): {len(both)} started; start-time error median "
              f"{median:.1f} s, p90 {p90:.1f} s ({median / max(mean_wait, 1):.1%} and "
              f"{p90 / max(mean_wait, 1):.1%} of the mean real wait); start order Kendall tau "
              f"{tau:.3f}")  # fmt: skip
    print(
        f"scheduler cycle: bf_interval {site.backfill.interval_s} s "
        "(a backfilled job starts up to one interval after it could)"
    )


if __name__ == "__main__":
    main()

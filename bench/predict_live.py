"""Live start predictions on the dev Slurm cluster: schedsight's against Slurm's own plan.

Submits jobs in waves (`sleep` 10-120 s under time limits 1.5-4x longer, batch/gpu/debug,
2-32 tasks) and, every few seconds while any of them pends, asks about each pending one as
`schedsight when` does (`hpc.predict.live_answer.answer_live` on one queue snapshot, with the
model `schedsight.live.LiveSource` trains on the imported history): schedsight's predicted
start (the model's median), the twin's forward plan, and Slurm's own planned start from the
same snapshot. Once all have run it reads the real starts from accounting and prints each
estimator's mean absolute error on the same (job, moment) pairs, and whether schedsight's MAE
is at most half of Slurm's (the issue 23 target), met or not.

    python bench/predict_live.py                  # 64 jobs in 4 waves, about 12 minutes
    python bench/predict_live.py --dump run.json  # keep the snapshots and real starts
    python bench/predict_live.py --replay run.json    # ask again on the kept snapshots

A fresh data dir takes the history (`slurm import`) and the site (`site import`); where the
cluster's accounting holds fewer than --history finished jobs, short warm-up jobs are run
first to make it up (the model needs a history). It drives the cluster alone (the Slurm
tests' lock) and cancels its jobs if interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dev_cluster import cancel, cluster_alone, job_mix, submit_all, wait_done
from bench.live_pairs import Asked, Pair, by_job, by_lead, errors, mae_ratio, pairs
from db.session import sqlite_url
from db.store import Store
from hpc.predict.live_answer import TrainedHistory, answer_live
from hpc.predict.pending import pending_starts
from hpc.slurm.accounting import AccountingRecord
from hpc.slurm.cli_backend import CliBackend
from hpc.slurm.retry import Backoff
from hpc.slurm.state import ClusterState, LiveJob, Node, Partition
from schedsight.cli import main as schedsight
from schedsight.live import LiveSource

ESTIMATORS = ("schedsight", "plan", "slurm", "table")
NAMES = {
    "schedsight": "schedsight (model median, `when`)",
    "plan": "forward plan (site twin)",
    "slurm": "Slurm's planned start",
    "table": "table median (`slurm status`)",
}
TARGET = 0.5  # schedsight's MAE at most this share of Slurm's
BACKOFF = Backoff(attempts=3, first_s=0.5, factor=2.0, max_s=4.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=64)
    parser.add_argument("--waves", type=int, default=4)
    parser.add_argument("--wave-gap-s", type=float, default=70.0)
    parser.add_argument("--every-s", type=float, default=15.0, help="ask this often")
    parser.add_argument("--history", type=int, default=240, help="finished jobs to learn from")
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--dump", type=Path, help="write the snapshots and real starts here")
    parser.add_argument("--replay", type=Path, help="no jobs: ask again on a --dump'ed run")
    args = parser.parse_args()
    if args.replay:
        kept = json.loads(args.replay.read_text())
        os.environ["SCHEDSIGHT_DATA_DIR"] = kept["data_dir"]
        report(kept, ask_again(kept))
        return 0
    with cluster_alone():
        kept = run(args)
    if args.dump:
        args.dump.write_text(json.dumps(kept))
    report(kept, [Asked(**a) for a in kept["asked"]])
    return 0


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Warm up the history if needed, import it, then the waves; the kept run (JSON-ready):
    data dir, snapshots with the accounting each was asked with, the jobs and real starts."""
    data = Path(tempfile.mkdtemp(prefix="predict-live-"))
    os.environ["SCHEDSIGHT_DATA_DIR"] = str(data)
    os.environ["SCHEDSIGHT_DATABASE_URL"] = ""
    cli = CliBackend()
    warm_up(cli, args.history, args.seed)
    if schedsight(["-q", "slurm", "import", "--days", "30"]) or schedsight(
        ["-q", "site", "import"]
    ):
        sys.exit("importing the history and the site failed")
    source = LiveSource(cli, BACKOFF, open_store(str(data)))
    started = time.perf_counter()
    trained, note = source.trained(cli.cluster_name())
    if trained is None:
        sys.exit(f"no model: {note}")
    print(f"model: {note}, trained in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    mix = job_mix(args.jobs, args.seed, name="live", runtime_s=(10, 120),
                  overask=(1.5, 4.0), ntasks=(2, 4, 8, 8, 16, 32))  # fmt: skip
    waves = [mix[k :: args.waves] for k in range(args.waves)]
    asker = Asker(source, trained, note, cli.cluster_name())
    ids: list[int] = []
    snapshots: list[dict[str, Any]] = []
    accounting: dict[str, list[dict[str, Any]]] = {}  # each read once: by its first moment
    asked: list[Asked] = []
    last: list[AccountingRecord] = []
    t0 = next_ask = time.monotonic()
    try:
        while waves or any(j.pending for j in cli.jobs(ids)):
            if waves and time.monotonic() >= t0 + (args.waves - len(waves)) * args.wave_gap_s:
                ids += submit_all(waves.pop(0), spread_s=2.0)
                print(f"wave submitted: {len(ids)} jobs so far", file=sys.stderr)
                time.sleep(1.0)  # the scheduler's first pass
            if time.monotonic() >= next_ask:
                next_ask += args.every_s
                now = int(time.time())
                state, records = source.state(), source.records(now)
                if records is not last:
                    accounting[str(now)], last = [asdict(r) for r in records], records
                asked += asker.ask(state, records, now, set(ids))
                snapshots.append({"now_s": now, "state": asdict(state),
                                  "records": max(accounting, key=int)})  # fmt: skip
            time.sleep(1.0)
        wait_done(cli, ids, timeout_s=900)
    except BaseException:
        cancel(ids)
        raise
    time.sleep(5)  # slurmdbd records the last starts a moment later
    mine = set(ids)
    actual = {r.job_id: r.start_s for r in cli.history(start_s=int(time.time()) - 3600)
              if r.job_id in mine and r.start_s}  # fmt: skip
    return {"data_dir": str(data), "cluster": cli.cluster_name(), "ids": ids,
            "actual": actual, "snapshots": snapshots, "accounting": accounting,
            "machine": machine(), "model": note, "asked": [asdict(a) for a in asked]}  # fmt: skip


def warm_up(cli: CliBackend, want: int, seed: int) -> None:
    """Run short jobs until the accounting of 30 days holds `want` finished jobs."""
    since = int(time.time()) - 30 * 86_400
    have = sum(r.end_s is not None and r.started for r in cli.history(start_s=since))
    if have >= want:
        return
    print(f"history: {have} finished jobs; running {want - have} warm-up jobs", file=sys.stderr)
    mix = job_mix(want - have, seed + 1, name="warm", runtime_s=(5, 40), ntasks=(1, 2, 4, 8))
    ids = submit_all(mix, spread_s=20.0)
    try:
        wait_done(cli, ids, timeout_s=900)
    except BaseException:
        cancel(ids)
        raise
    time.sleep(5)


def open_store(data_dir: str) -> Store:
    return Store.open(sqlite_url(Path(data_dir) / "schedsight.db"))


class Asker:
    """Asks about the run's pending jobs of a snapshot as `schedsight when` does."""

    def __init__(self, source: LiveSource, trained: TrainedHistory, note: str, cluster: str):
        self.trained, self.note = trained, note
        self.site = source.site(cluster)

    def ask(
        self, state: ClusterState, records: list[AccountingRecord], now: int, mine: set[int]
    ) -> list[Asked]:
        """Each pending job of `mine` in `state`: schedsight's median (`when`), the forward
        plan, Slurm's planned start, and the median of the queue table (`slurm status`)."""
        site, trained = self.site, self.trained
        table = pending_starts(state, records, now, site=site, trained=trained)
        asked = []
        for job in state.pending:
            if job.job_id not in mine:
                continue
            a = answer_live(state, job.job_id, records, now, site=site, trained=trained,
                            model_note=self.note)  # fmt: skip
            starts = {
                "schedsight": None if a.advice is None else a.advice.start_s()[1],
                "plan": None if a.plan is None else a.plan.start_s,
                "slurm": a.slurm_start_s,
                "table": table[job.job_id].model_p50_s,
            }
            asked.append(Asked(job.job_id, now, starts))
        return asked


def ask_again(kept: dict[str, Any]) -> list[Asked]:
    """The kept run's snapshots asked about again, with this tree's code."""
    source = LiveSource(CliBackend(), BACKOFF, open_store(kept["data_dir"]))
    trained, note = source.trained(kept["cluster"])
    if trained is None:
        sys.exit(f"no model: {note}")
    asker = Asker(source, trained, note, kept["cluster"])
    mine, asked = set(kept["ids"]), []
    cpu = time.process_time()
    for snap in kept["snapshots"]:
        records = [AccountingRecord(**r) for r in kept["accounting"][snap["records"]]]
        asked += asker.ask(state_from(snap["state"]), records, int(snap["now_s"]), mine)
    cpu = time.process_time() - cpu
    print(f"asked {len(asked)} times again in {cpu:.1f} s CPU ({note})", file=sys.stderr)
    return asked


def state_from(doc: dict[str, Any]) -> ClusterState:
    """A snapshot back from its `asdict` form (lists back to tuples)."""
    return ClusterState(
        doc["cluster"], doc["release"], doc["backend"],
        tuple(Node(**{**n, "partitions": tuple(n["partitions"]), "flags": tuple(n["flags"])})
              for n in doc["nodes"]),
        tuple(Partition(**{**p, "nodes": tuple(p["nodes"])}) for p in doc["partitions"]),
        tuple(LiveJob(**j) for j in doc["jobs"]),
    )  # fmt: skip


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def report(kept: dict[str, Any], asked: list[Asked]) -> None:
    actual = {int(k): int(v) for k, v in kept["actual"].items()}
    judged = pairs(asked, actual, ESTIMATORS)
    jobs = {p.job_id for p in judged}
    release = kept["snapshots"][0]["state"]["release"] if kept["snapshots"] else "?"
    print(f"dev cluster {kept['cluster']} (Slurm {release}); machine: {kept['machine']}; "
          f"model: {kept.get('model', '?')}")  # fmt: skip
    print(f"{len(kept['ids'])} jobs submitted, {len(actual)} started; {len(kept['snapshots'])} "
          f"moments, {len(asked)} (job, moment) asked; {len(judged)} pairs of {len(jobs)} jobs "
          "with every estimate")  # fmt: skip
    print(f"{'estimator':<36} {'pairs':>5} {'MAE':>7} {'median':>7} {'bias':>7}")
    for name, e in errors(judged, ESTIMATORS).items():
        print(f"{NAMES[name]:<36} {e.n:>5} {e.mae_s:>6.1f}s {e.median_s:>6.1f}s {e.bias_s:>+6.1f}s")
    ratio = mae_ratio(judged, "schedsight", "slurm")
    verdict = "MET" if ratio <= TARGET else "NOT MET"
    print(f"schedsight MAE / Slurm MAE = {ratio:.2f} (target <= {TARGET}): {verdict}")
    print(f"forward plan MAE / Slurm MAE = {mae_ratio(judged, 'plan', 'slurm'):.2f}")
    print("MAE by how long before its real start the job was asked (s):")
    for lo, hi, errs in by_lead(judged, ESTIMATORS):
        cells = " ".join(f"{name} {e.mae_s:6.1f}" for name, e in errs.items())
        print(f"  {lo:>4}-{'' if hi is None else hi:<4} ({errs['slurm'].n:>3}) {cells}")
    worst(judged)


def worst(judged: list[Pair], n: int = 6) -> None:
    """The jobs schedsight missed most, beside the other estimators."""
    per_job = sorted(by_job(judged, ESTIMATORS).items(), key=lambda kv: -kv[1]["schedsight"].mae_s)
    print(f"worst {n} jobs by schedsight's MAE (moments: signed errors, s):")
    for job, errs in per_job[:n]:
        mine = [p for p in judged if p.job_id == job]
        cells = " ".join(f"{name} {e.mae_s:.0f}" for name, e in errs.items())
        moments = ", ".join(
            f"{p.lead_s}s before: {p.error_s('schedsight'):+.0f}/{p.error_s('plan'):+.0f}/"
            f"{p.error_s('slurm'):+.0f}" for p in mine[:4]
        )  # fmt: skip
        print(f"  job {job}: {cells}; {moments}")


if __name__ == "__main__":
    if os.environ.get("SCHEDSIGHT_NO_SLURM"):
        raise SystemExit(0)
    raise SystemExit(main())

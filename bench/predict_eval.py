"""Start-time prediction accuracy on the shared traces, against three baselines.

For each trace: time-ordered 70/30 split; the models learn from the first 70% of jobs and
predict the wait of test jobs (an even sample of them, the same jobs for every row). Columns:
share of jobs whose start is predicted within 1, 10 and 60 minutes, median absolute error,
and p10–p90 coverage (the learned model only). Rows:

- `model p50`: the LightGBM quantile model (its features include the requested-time plan);
- `model likely`: the centre of the 20-minute window the model's quantile grid makes most
  probable (hpc/predict/likely.py), the estimate built for "within 10 minutes";
- `sim requested`: the queue planned forward with requested walltimes (Slurm's method);
- `sim predicted` / `sim hybrid`: the same plan with the runtime model's p50 (see
  hpc/predict/snapshot.py for how running jobs past their prediction are treated);
- `user request`: the wait predicted as the job's own requested walltime;
- `train mean`: the mean training wait.

Lublin: the shared Lublin files record no waits and no requested times, so the row uses the
project's generator (10,000 jobs, seed 1, 256 processors, rounded user estimates, arrivals
twice as dense as the model's so that jobs queue) and a
replay under multifactor:easy as the history. Also times one job's advice (prediction,
SHAP explanation, sentence and ranked alternatives) after a warm-up.

Issue 23's targets, on the jobs people ask about: every test job still pending 60 s after
submission (not a sample: on KTH, three samples of 1,500 test jobs, every 5th from the
first, second and third, gave 1.93x, 2.11x and 1.93x of the same model), each printed as
met or NOT MET per trace: the most likely window's centre within 10 minutes of the start at
least twice as often as the requested-time plan (`sim requested`); the p10-p90 band a user
gets covering 75-90% of them; and the chance stated for the window within 5 points of the
share of them that started in it.

    python bench/predict_eval.py                     # all five traces; table: 1,500 test jobs each
    python bench/predict_eval.py --traces kth --sample 500
    python bench/predict_eval.py --slurm             # plus the dev Slurm cluster comparison
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from hpc.predict.advice import advise  # noqa: E402
from hpc.predict.calibration import QUEUED_S  # noqa: E402
from hpc.predict.features import request_of  # noqa: E402
from hpc.predict.history import History, history_of  # noqa: E402
from hpc.predict.predictor import Predictor, inside_wait_band  # noqa: E402
from hpc.predict.snapshot import Flavour, planned_start_s  # noqa: E402
from hpc.workload.cleaning import clean, machine_for  # noqa: E402
from hpc.workload.loading import LoadedWorkload, load_workload  # noqa: E402
from hpc.workload.lublin import LublinParams, generate  # noqa: E402

TRACES = Path(os.environ.get("SCHEDSIGHT_TRACES_DIR", ROOT.parent / "shared" / "traces"))
INPUTS = {
    "kth": "KTH-SP2-1996-2.1-cln.swf.gz",
    "coare": "DOST-ASTI_COARE-Saliksik-2020-cln.swf",
    "hpc2n": "alea-hpc2n-subset.swf",
    "lublin": None,  # generated
    "lcg": "LCG.swf.gz",  # 187,520 jobs; replayed with no waits: no job is still pending
}


def load(name: str) -> LoadedWorkload | None:
    file = INPUTS[name]
    if file is None:
        trace = generate(10_000, seed=1, procs=256, params=LublinParams(interarrival_scale=0.5))
        machine = machine_for(trace)
        jobs, report = clean(trace, machine=machine)
        return LoadedWorkload(trace, machine, jobs, report)
    path = TRACES / file
    if not path.exists():
        print(f"skip {name}: {path} not found (shared traces live in ../shared/traces)")
        return None
    return load_workload(path)


def scores(pred_wait: np.ndarray, actual: np.ndarray) -> list[float]:
    err = np.abs(pred_wait - actual)
    return [*(float(np.mean(err <= m * 60)) for m in (1, 10, 60)), float(np.median(err))]


def evaluate(
    name: str, history: History, sample: int, pending_every: int = 1
) -> tuple[list[str], float]:
    split = history.split(0.7)
    t0 = time.perf_counter()
    predictor = Predictor.train(history, split)
    train_s = time.perf_counter() - t0
    test = np.arange(split, len(history), dtype=np.int64)
    rows = test[:: max(1, len(test) // sample)]
    actual = history.wait_s[rows].astype(np.float64)
    x_rows, submit = predictor.features(rows), history.jobs.submit_s[rows]
    preds = predictor.predict_x(x_rows, submit)
    calibration, predictor.chance = predictor.chance, None  # the windows' raw chances
    raw_chance = float(np.mean([p.likely.chance for p in predictor.predict_x(x_rows, submit)]))
    predictor.chance = calibration
    p50 = np.array([p.wait.p50_s for p in preds])
    likely = np.array([p.likely.centre_s for p in preds])
    chance = float(np.mean([p.likely.chance for p in preds]))
    inside = inside_wait_band(preds, actual)
    # Runtime p50 for every job up to the last sampled one (the plans need the queue's).
    x_all = predictor.features(np.arange(int(rows[-1]) + 1, dtype=np.int64))
    run_p50 = np.asarray(predictor.run_model.predict_s(x_all)[1]).astype(np.int64)
    lines = []
    predicted = {"model p50": p50, "model likely": likely}
    for flavour in Flavour:
        predicted[f"sim {flavour.value}"] = np.array(
            [
                planned_start_s(
                    history,
                    request_of(history, int(r)),
                    flavour=flavour,
                    predicted_run_s=run_p50,
                    own_run_s=float(run_p50[r]),
                    upper=int(r),
                )
                - history.jobs.submit_s[r]
                for r in rows
            ],
            dtype=np.float64,
        )
    predicted["user request"] = history.jobs.req_time_s[rows].astype(float)
    mean = float(np.mean(np.maximum(history.wait_s[:split], 0)))
    predicted["train mean"] = np.full(len(rows), mean)
    for label, pred in predicted.items():
        s = scores(pred, actual)
        cov = f"{np.mean(inside):.1%}" if label == "model p50" else "-"
        if label == "model likely":
            cov = f"({chance:.0%})"  # the chance the model states for its windows
        lines.append(
            f"{name:<7} {label:<14} {s[0]:>6.1%} {s[1]:>7.1%} {s[2]:>7.1%} "
            f"{s[3] / 60:>10.1f} {cov:>9}"
        )
    sim = max(scores(predicted["sim requested"], actual)[1], 1e-9)
    in_window = np.mean(
        [p.likely.lo_s <= y <= p.likely.hi_s for p, y in zip(preds, actual, strict=True)]
    )
    lines.append(
        f"{name:<7} {'':<14} likely windows: stated chance {chance:.0%} (calibrated; raw "
        f"{raw_chance:.0%}), started in them {in_window:.0%}"
    )
    lines.append(
        f"{name:<7} {'':<14} within-10-min ratio to sim requested: model likely "
        f"{scores(likely, actual)[1] / sim:.2f}x, model p50 {scores(p50, actual)[1] / sim:.2f}x "
        f"(target >= 2x); {len(rows)} test jobs of {len(test)}; training {train_s:.1f} s"
    )
    # What the target asks of a predictor: any job that waits at most 20 minutes is within
    # 10 of a guess of 10 minutes, so those count for every predictor that knows which they
    # are; the rest need the wait itself within 10 minutes, hours ahead.
    target = 2 * sim
    soon = float(np.mean(actual <= 1200))
    need = (target - soon) / max(1 - soon, 1e-9)
    if target > 1:
        reach = "over 100% of the jobs: out of reach"
    elif need <= 0:
        reach = "nothing more"
    else:
        reach = f"within 10 min of {need:.0%} of the jobs that wait longer"

    lines.append(
        f"{name:<7} {'':<14} waits <= 20 min: {soon:.1%} of test jobs; right on exactly those "
        f"= {soon / sim:.2f}x. 2x ({target:.1%}) needs that and {reach}"
    )
    queued = actual > QUEUED_S
    if queued.sum():
        # The same share on the sampled jobs alone: how far a sample's figure strays.
        on_sample = predictor.predict_rows(rows[queued], queued=True)
        mine = scores(np.array([p.likely.centre_s for p in on_sample]), actual[queued])[1]
        theirs = scores(predicted["sim requested"][queued], actual[queued])[1]
        lines.append(
            f"{name:<7} {'':<14} pending > {QUEUED_S} s among the sampled jobs only "
            f"({queued.sum()}): within 10 min model likely {mine:.1%} vs sim requested "
            f"{theirs:.1%} = {mine / max(theirs, 1e-9):.2f}x (a sample's figure, for scale)"
        )
    lines += pending_targets(name, history, predictor, test, pending_every)
    job = int(history.jobs.job_id[rows[len(rows) // 2]])
    advise(predictor, job)  # warm-up
    took = []
    for _ in range(5):
        t0 = time.perf_counter()
        advise(predictor, job)
        took.append(time.perf_counter() - t0)
    lines.append(
        f"{name:<7} {'':<14} advice for job {job} (SHAP + sentence + alternatives): "
        f"median {np.median(took) * 1000:.0f} ms after warm-up (target < 1000 ms)"
    )
    return lines, float(np.median(took))


def pending_targets(
    name: str,
    history: History,
    predictor: Predictor,
    test: np.ndarray,
    every: int,
) -> list[str]:
    """Issue 23's targets on the jobs people ask about: test jobs still pending QUEUED_S after
    submission, every `every`-th of them (1: all), with the window and band a user asking
    then gets (read from waits beyond QUEUED_S, calibrated on such jobs)."""
    pending = test[history.wait_s[test] > QUEUED_S][::every]
    if len(pending) < 20:
        return [
            f"{name:<7} {'':<14} targets: {len(pending)} test jobs still pending after "
            f"{QUEUED_S} s (fewer than 20): the issue's targets do not apply"
        ]
    actual = history.wait_s[pending].astype(np.float64)
    preds = predictor.predict_rows(pending, queued=True)
    inside = float(np.mean(inside_wait_band(preds, actual)))
    likely = scores(np.array([p.likely.centre_s for p in preds]), actual)[1]
    p50 = scores(np.array([p.wait.p50_s for p in preds]), actual)
    hit = float(
        np.mean([p.likely.lo_s <= y <= p.likely.hi_s for p, y in zip(preds, actual, strict=True)])
    )
    said = float(np.mean([p.likely.chance for p in preds]))
    plan = np.array(
        [
            planned_start_s(history, request_of(history, int(r)), upper=int(r))
            - history.jobs.submit_s[r]
            for r in pending
        ],
        dtype=np.float64,
    )
    sim = scores(plan, actual)
    share = "every one" if every == 1 else f"1 in {every}"
    lines = [
        f"{name:<7} {'':<14} pending > {QUEUED_S} s: {len(pending)} test jobs ({share}); "
        f"within 10 min model likely {likely:.1%}, p50 {p50[1]:.1%} vs sim requested "
        f"{sim[1]:.1%} = {likely / max(sim[1], 1e-9):.2f}x, {p50[1] / max(sim[1], 1e-9):.2f}x; "
        f"MAE (p50) {p50[3] / 60:.0f} vs {sim[3] / 60:.0f} min; p10-p90 coverage {inside:.1%}; "
        f"windows: stated chance {said:.0%}, started in them {hit:.0%}"
    ]
    return lines + targets(name, likely, sim[1], inside, said, hit)


def targets(
    name: str, likely: float, sim: float, coverage: float, said: float, hit: float
) -> list[str]:
    """Issue 23's targets on jobs still pending QUEUED_S after submission, met or not."""

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT MET"

    ratio = likely / max(sim, 1e-9)
    gap = abs(said - hit) * 100
    head = f"{name:<7} {'':<14} target"
    return [
        f"{head} within 10 min, model likely vs sim requested: {likely:.1%} vs {sim:.1%} = "
        f"{ratio:.2f}x (>= 2x): {verdict(ratio >= 2)}",
        f"{head} p10-p90 coverage {coverage:.1%} (75-90%): {verdict(0.75 <= coverage <= 0.9)}",
        f"{head} likely window: stated chance {said:.1%} vs started in it {hit:.1%}, "
        f"{gap:.1f} points apart (<= 5): {verdict(gap <= 5)}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", default=",".join(INPUTS), help="comma-separated names")
    parser.add_argument("--sample", type=int, default=1500, help="test jobs per trace")
    parser.add_argument(
        "--pending-every",
        type=int,
        default=1,
        help="score the targets on every k-th pending test job (default 1: all of them)",
    )
    parser.add_argument("--slurm", action="store_true", help="also compare on the dev cluster")
    args = parser.parse_args()
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    print(
        f"{'trace':<7} {'predictor':<14} {'<=1min':>6} {'<=10min':>7} {'<=60min':>7} "
        f"{'MAE (min)':>10} {'coverage':>9}"
    )
    for name in args.traces.split(","):
        loaded = load(name.strip())
        if loaded is None:
            continue
        lines, _ = evaluate(name, history_of(loaded), args.sample, max(1, args.pending_every))
        print("\n".join(lines), flush=True)
    if args.slurm:
        import predict_slurm  # the sibling script in bench/

        return predict_slurm.main()
    state = "not installed"
    if shutil.which("scontrol"):
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, check=False)
        state = "up" if "is UP" in ping.stdout else "not up"
    print(
        f"dev Slurm cluster: {state}; --slurm (or bench/predict_slurm.py) compares with "
        "Slurm's planned starts (submits 12 short jobs, about 3 minutes)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The work behind `schedsight predict`, `explain JOB` and `alternatives JOB` (parsed in
`predict_commands`, loaded only when one runs: it needs the predict extra).

Models are trained on the workload given (`--trace FILE` or `--workload ID` from the
database) with a time-ordered split, once: the trained model is stored in the database and
loaded by later calls (`db.trained`). A job's prediction uses only what was known when it
was submitted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hpc.predict.advice import Advice, advise
from hpc.predict.alternatives import Alternative, Change, prescriptive, what_if
from hpc.predict.calibration import QUEUED_S
from hpc.predict.errors import PredictError, UnknownJobError
from hpc.predict.explain import Explanation, global_importance
from hpc.predict.features import duration_text, request_of
from hpc.predict.likely import Likely
from hpc.predict.predictor import TRAIN_STEPS, Band, Predictor, inside_wait_band
from hpc.workload.cleaning import clean, machine_for
from hpc.workload.loading import LoadedWorkload, load_workload
from schedsight.progress import progress_for
from schedsight.wiring import wiring_of

if TYPE_CHECKING:
    from db.store import Store
    from db.trained import Outcome

MODEL_NAME = "lightgbm-quantile"  # the predictions' model, as stored


def _trained(args: argparse.Namespace) -> tuple[Predictor, Store]:
    """The stored model for the workload given, trained (and stored) only when none fits;
    and the store, for `--save`."""
    from db.trained import Training, trained_predictor

    if (args.trace is None) == (args.workload is None):
        raise PredictError("give exactly one of --trace FILE or --workload ID")
    store = wiring_of(args).open_store()
    loaded, lineage = _loaded(args, store)
    job = getattr(args, "job", None)
    if job is not None and not np.any(loaded.jobs.job_id == job):
        raise UnknownJobError(job, loaded.trace.source)  # before any training
    outcomes: list[Outcome] = []
    with ExitStack() as stack:
        bar: Callable[[int], None] | None = None

        def advance(n: int) -> None:  # first called when training starts
            nonlocal bar
            if bar is None:
                print(
                    f"schedsight: training on {len(loaded.jobs):,} jobs of {loaded.trace.source}",
                    file=sys.stderr,
                )
                bar = stack.enter_context(progress_for(args, total=TRAIN_STEPS, what="training"))
            bar(n)

        predictor = trained_predictor(
            store,
            loaded,
            lineage=lineage,
            workload_id=args.workload,
            training=Training(train_share=args.train_share),
            on_progress=advance,
            on_outcome=outcomes.append,
        )
    _report(outcomes[0], len(loaded.jobs))
    return predictor, store


def _report(outcome: Outcome, jobs: int) -> None:
    if not outcome.trained:
        print(
            f"schedsight: using stored model {outcome.model_id} (trained once on {jobs:,} "
            f"jobs in {outcome.train_s:.1f} s)",
            file=sys.stderr,
        )
        return
    how = "" if outcome.base_id is None else f", continuing model {outcome.base_id}"
    print(
        f"schedsight: trained in {outcome.train_s:.1f} s{how}; stored as model {outcome.model_id}",
        file=sys.stderr,
    )


def _loaded(args: argparse.Namespace, store: Store) -> tuple[LoadedWorkload, str]:
    """The workload and its lineage: what names it across versions (file or workload name)."""
    if args.trace is not None:
        lineage = f"trace:{Path(args.trace).name}"
        return load_workload(args.trace, procs=args.machine_procs), lineage
    from db.workloads import get_workload, load_trace

    with store.sessions() as session:
        trace = load_trace(session, workload_id=args.workload)
        lineage = f"workload:{get_workload(session, workload_id=args.workload).name}"
    machine = machine_for(trace, procs=args.machine_procs)
    jobs, report = clean(trace, machine=machine)
    return LoadedWorkload(trace, machine, jobs, report), lineage


def cmd_predict(args: argparse.Namespace) -> int:
    if args.save and args.job is None:
        raise PredictError("--save stores one job's predictions: give --job N")
    predictor, store = _trained(args)
    history = predictor.history
    if args.job is not None:
        advice = advise(predictor, args.job)
        if args.save:
            _save(store, args, predictor, advice)
        if args.json:
            print(json.dumps(advice.as_dict(), indent=2))
            return 0
        p = advice.prediction
        print(f"job {args.job}: wait {_band(p.wait)}, runtime {_band(p.runtime)}")
        print(f"  {_likely(p.likely)}; actual wait {duration_text(advice.actual_wait_s or 0)}")
        return 0
    test = np.arange(history.split(args.train_share), len(history), dtype=np.int64)
    preds = predictor.predict_rows(test)
    actual = history.wait_s[test]
    p50 = np.array([q.wait.p50_s for q in preds])
    inside = inside_wait_band(preds, actual)
    err = np.abs(p50 - actual)
    likely_err = np.abs(np.array([q.likely.centre_s for q in preds]) - actual)
    out: dict[str, float | int] = {
        "test_jobs": len(test),
        **{f"within_{m}_min": float(np.mean(err <= m * 60)) for m in (1, 10, 60)},
        "median_abs_error_s": float(np.median(err)),
        "likely_within_10_min": float(np.mean(likely_err <= 600)),
        "likely_stated_chance": float(np.mean([q.likely.chance for q in preds])),
        "p10_p90_coverage": float(np.mean(inside)),
    }
    # Jobs still pending after a minute, with the band a user asking about them gets.
    waited = actual > QUEUED_S
    if waited.any():
        bands = predictor.predict_rows(test[waited], queued=True)
        out["queued_jobs"] = int(waited.sum())
        out["queued_p10_p90_coverage"] = float(np.mean(inside_wait_band(bands, actual[waited])))
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for key, value in out.items():
            print(f"{key:>24}: {value:.3f}" if isinstance(value, float) else f"{key:>24}: {value}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    predictor, store = _trained(args)
    advice = advise(predictor, args.job)
    if args.save:
        _save(store, args, predictor, advice)
    if args.png_dir is not None:
        _pngs(predictor, advice.explanation, args.png_dir, args.job)
    if args.json:
        print(json.dumps(advice.as_dict(), indent=2))
        return 0
    print(advice.explanation.sentence())
    actual = duration_text(advice.actual_wait_s or 0)
    print(f"wait {_band(advice.prediction.wait)} (actual {actual})")
    print(_likely(advice.prediction.likely))
    for a in advice.explanation.attributions:
        sign = "+" if a.effect_s >= 0 else "-"
        print(f"  {a.feature:>20} = {a.value:10.3g}  {sign}{duration_text(a.effect_s)}")
    print("best alternatives:")
    nodes = predictor.history.machine.node_exclusive
    for alt in advice.alternatives[:3]:
        print(f"  {_alt(alt, nodes=nodes)}")
    return 0


def cmd_alternatives(args: argparse.Namespace) -> int:
    predictor, _ = _trained(args)
    history = predictor.history
    nodes = history.machine.node_exclusive
    row = history.index_of(args.job)
    base = request_of(history, row)
    change = Change(
        procs=args.procs,
        req_time_s=None if args.walltime_h is None else int(args.walltime_h * 3600),
        partition=args.partition,
        delay_s=int(args.delay_h * 3600),
    )
    if args.deadline_h is not None:
        options = prescriptive(predictor, base, base.submit_s + int(args.deadline_h * 3600))
        if not options:
            print(f"no option finishes within {args.deadline_h} h at p90")
        for alt in options:
            print(_alt(alt, nodes=nodes))
        return 0
    if change == Change():
        advice = advise(predictor, args.job)
        for alt in advice.alternatives:
            print(_alt(alt, nodes=nodes))
        return 0
    asked, changed = what_if(predictor, base, change, upper=row)
    print(f"as asked: {_alt(asked, nodes=nodes)}")
    print(f"what if:  {_alt(changed, nodes=nodes)}")
    print(f"(counterfactual: job {args.job} actually waited {duration_text(history.wait_s[row])})")
    return 0


def _save(store: Store, args: argparse.Namespace, predictor: Predictor, advice: Advice) -> None:
    """One start and one runtime prediction, with the explanation and the known outcome."""
    from db.predictions import save_prediction
    from db.session import transaction

    history = predictor.history
    row, p = advice.row, advice.prediction
    source = f"workload:{args.workload}" if args.workload is not None else Path(args.trace).name
    ref = f"{source}:{advice.job_id}"
    detail = advice.as_dict()
    explanation = {
        "times": "seconds since the trace start",
        "submit_s": p.submit_s,
        "queued_band": advice.queued_band,
        "sentence": detail["sentence"],
        "attributions": detail["attributions"],
        "alternatives": detail["alternatives"],
    }
    start, run = p.start, p.runtime
    with transaction(store.sessions) as session:
        ids = [
            save_prediction(
                session,
                kind=kind,
                model=MODEL_NAME,
                job_ref=ref,
                p10_s=band.p10_s,
                p50_s=band.p50_s,
                p90_s=band.p90_s,
                explanation=explanation if kind == "start" else {"times": "seconds"},
                workload_id=args.workload,
                actual_s=actual,
            ).id
            for kind, band, actual in (
                ("start", start, float(history.start_s[row])),
                ("runtime", run, float(max(history.jobs.run_s[row], 0))),
            )
        ]
    print(
        f"schedsight: stored predictions {ids[0]} (start) and {ids[1]} (runtime)", file=sys.stderr
    )


def _pngs(predictor: Predictor, explanation: Explanation, folder: Path, job: int) -> None:
    from hpc.predict.plots import bar_png, beeswarm_png, waterfall_png  # matplotlib: only here

    folder.mkdir(parents=True, exist_ok=True)
    sample = predictor.recent_x
    shap = global_importance(predictor, sample)
    paths = [
        waterfall_png(explanation, folder / f"waterfall_{job}.png", title=f"job {job}"),
        bar_png(shap, folder / "shap_bar.png"),
        beeswarm_png(shap, sample, folder / "shap_beeswarm.png"),
    ]
    print(f"schedsight: wrote {', '.join(str(p) for p in paths)}", file=sys.stderr)


def _likely(w: Likely) -> str:
    """`most likely start: 0 s-20 min after submission (chance 41%)`."""
    span = f"{duration_text(w.lo_s)}-{duration_text(w.hi_s)}"
    return f"most likely start: {span} after submission (chance {w.chance:.0%})"


def _band(b: Band) -> str:
    return f"{duration_text(b.p50_s)} (p10 {duration_text(b.p10_s)}, p90 {duration_text(b.p90_s)})"


def _alt(a: Alternative, *, nodes: bool) -> str:
    """One option; times are counted from the original submit."""
    unit = "node" if nodes else "proc"
    origin = a.request.submit_s - a.change.delay_s
    start = duration_text(a.prediction.start.p50_s - origin)
    finish, finish90 = (duration_text(v - origin) for v in (a.finish.p50_s, a.finish.p90_s))
    risk = ", may be killed at its limit" if a.kill_risk else ""
    return (
        f"{a.change.describe():<32} score {a.score:7.2f}  start +{start}  finish +{finish} "
        f"(p90 +{finish90})  {a.node_hours.p50_s:.1f} {unit}-h  distance {a.distance:.2f}{risk}"
    )

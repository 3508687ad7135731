"""`schedsight predict`, `explain JOB` and `alternatives JOB`: start-time predictions for users.

The options are parsed here; the work (`schedsight.predicting`: LightGBM, pandas) is loaded
only when one of these commands runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from schedsight.arguments import MAX_HOURS, MAX_ID, MAX_PROCS, cluster_name, float_in, int_in

_JOB = int_in(0, 2**53)  # SWF job numbers (the reader's bound)
_HOURS = float_in(0.0, MAX_HOURS, open_low=True)


def _later(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from schedsight import predicting

        command: Callable[[argparse.Namespace], int] = getattr(predicting, name)
        return command(args)

    return run


cmd_predict, cmd_explain, cmd_alternatives = (
    _later("cmd_predict"),
    _later("cmd_explain"),
    _later("cmd_alternatives"),
)


def cmd_report(args: argparse.Namespace) -> int:
    """`schedsight predict report`: how right the stored live predictions were."""
    import json

    from db.predictions import live_report
    from hpc.timetext import span_text
    from schedsight.wiring import wiring_of

    store = wiring_of(args).open_store()
    with store.sessions() as session:
        report = live_report(session, cluster=args.cluster)
    if args.json:
        print(json.dumps({"cluster": args.cluster, **report.as_dict()}, indent=2))
        return 0
    where = f"cluster {args.cluster}" if args.cluster else "every cluster"
    print(f"live start predictions, {where}:")
    print("\n".join("  " + line for line in report.lines(span_text)))
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("predict", help="predict start time and runtime (p10/p50/p90)")
    _source(p)
    p.add_argument("--job", type=_JOB, help="SWF job number (default: accuracy on the test part)")
    p.add_argument("--save", action="store_true", help="store the job's predictions")
    p.set_defaults(run=cmd_predict)
    report = p.add_subparsers(dest="predict_command", required=False).add_parser(
        "report", help="how right the live predictions were: calibration, band, errors"
    )
    report.add_argument("--cluster", type=cluster_name, help="one cluster (default: all)")
    report.add_argument("--json", action="store_true", help="print JSON on stdout")
    report.set_defaults(run=cmd_report)

    e = sub.add_parser("explain", help="why a job waits: SHAP, a sentence and alternatives")
    e.add_argument("job", type=_JOB, help="SWF job number")
    _source(e)
    e.add_argument("--png-dir", type=Path, help="write waterfall, bar and beeswarm PNGs here")
    e.add_argument("--save", action="store_true", help="store the predictions and explanation")
    e.set_defaults(run=cmd_explain)

    a = sub.add_parser("alternatives", help="other requests for the same work, ranked")
    a.add_argument("job", type=_JOB, help="SWF job number")
    _source(a)
    a.add_argument("--deadline-h", type=_HOURS, help="prescriptive: finish within H hours")
    a.add_argument("--procs", type=int_in(1, MAX_PROCS), help="what if: this many processors")
    a.add_argument("--walltime-h", type=_HOURS, help="what if: this walltime")
    a.add_argument("--partition", type=int_in(0, MAX_ID), help="what if: this partition number")
    a.add_argument("--delay-h", type=float_in(0.0, MAX_HOURS), default=0.0,
                   help="what if: submit H hours later")  # fmt: skip
    a.set_defaults(run=cmd_alternatives)


def _source(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trace", help="SWF file to learn from")
    p.add_argument(
        "--workload", type=int_in(1, MAX_ID), help="stored workload id (`schedsight db`)"
    )
    p.add_argument("--procs-machine", type=int_in(1, MAX_PROCS), dest="machine_procs",
                   help="machine size")  # fmt: skip
    p.add_argument("--train-share", type=float_in(0.1, 0.95), default=0.7,
                   help="past share (default 0.7)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print JSON on stdout")

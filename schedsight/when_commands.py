"""`schedsight when JOBID`: when a pending job of the live cluster starts, and why.

Parsed here; `schedsight.live` wires the backend, the store and the model, and
`hpc.predict.live_answer` does the work.
"""

from __future__ import annotations

import argparse
import json

from schedsight.arguments import MAX_ID, cluster_name, int_in
from schedsight.wiring import wiring_of


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from hpc.slurm.backends import BACKENDS

    when = sub.add_parser("when", help="when will a pending job of the live cluster start, why")
    when.add_argument("job_id", type=int_in(1, 2**53), help="a pending job's id")
    when.add_argument("--workload", type=int_in(1, MAX_ID),
                      help="learn from this stored workload (default: the cluster's newest "
                      "`slurm import`)")  # fmt: skip
    when.add_argument("--backend", choices=list(BACKENDS),
                      help="how to reach Slurm (default: SCHEDSIGHT_SLURM_BACKEND)")  # fmt: skip
    when.add_argument("--cluster", type=cluster_name, help="one cluster of a multi-cluster site")
    when.add_argument("--json", action="store_true", help="print the answer as one JSON object")
    when.set_defaults(run=cmd_when)


def cmd_when(args: argparse.Namespace) -> int:
    source = wiring_of(args).live_source(
        args.backend, cluster=args.cluster, workload_id=args.workload
    )
    answer = source.answer(args.job_id)
    if args.json:
        print(json.dumps(answer.as_dict(), indent=2))
    else:
        print("\n".join(answer.lines()))
    return 0

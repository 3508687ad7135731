"""`schedsight sweep`: a grid of policies x machine sizes over one trace, every point a stored
run; `--on local` (a process pool, the default) or `--on slurm` (one Slurm job array, a task
per point, into the shared database). `schedsight sweep-task PLAN` is what each array task
runs. Wiring only: `schedsight.sweeping` holds the plan and the runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING

from schedsight.arguments import CliError
from schedsight.wiring import Wiring, wiring_of

if TYPE_CHECKING:
    from schedsight.sweeping import SweepPlan


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sweep", help="replay a grid of policies x machine sizes, store each run")
    p.add_argument("trace", help="SWF file (plain or .gz), readable by every node for --on slurm")
    p.add_argument("--policies", required=True, help="comma-separated, e.g. fcfs:easy,sjf:easy")
    p.add_argument("--procs", required=True, help="machine sizes, comma-separated: 128,256")
    p.add_argument("--estimate", default="requested", help="requested (default) or actual")
    p.add_argument("--on", choices=["local", "slurm"], default="local")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="--on local")
    p.add_argument("--no-wait", action="store_true", help="--on slurm: submit and return")
    p.set_defaults(run=cmd_sweep)
    task = sub.add_parser("sweep-task", help="one point of a sweep (inside a Slurm array)")
    task.add_argument("plan", help="the plan file `sweep --on slurm` wrote")
    task.set_defaults(run=cmd_sweep_task)


def _plan(args: argparse.Namespace) -> SweepPlan:
    from schedsight.sweeping import SweepPlan

    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    try:
        procs = [int(n) for n in args.procs.split(",") if n.strip()]
    except ValueError:
        raise CliError(f"--procs {args.procs!r}: give machine sizes as numbers, 128,256") from None
    if not policies or not procs or min(procs) <= 0:
        raise CliError("a sweep needs at least one policy and one positive machine size")
    return SweepPlan.grid(args.trace, policies, procs, args.estimate)


def cmd_sweep(args: argparse.Namespace) -> int:
    from schedsight.sweeping import run_local, stored_runs

    wiring = wiring_of(args)
    plan = _plan(args)
    url = wiring.database_url
    wiring.open_store().engine.dispose()  # the schema is current before any task starts
    if args.on == "local":
        runs = [r.run_id for r in run_local(url, plan, max(1, args.workers))]
    else:
        if not url.startswith("postgresql"):
            raise CliError(
                "--on slurm needs a database every node reaches: set SCHEDSIGHT_DATABASE_URL "
                "to a PostgreSQL server (and run `schedsight db upgrade` once)"
            )
        job_id = _submit_array(wiring, plan)
        print(f"sweep of {len(plan.points)} points: Slurm array job {job_id}", file=sys.stderr)
        if args.no_wait:
            return 0
        _wait(wiring, job_id)
        found = stored_runs(url, plan)
        missing = [i for i, r in enumerate(found) if r is None]
        if missing:
            raise CliError(f"array job {job_id}: points {missing} stored no run (see their logs)")
        runs = [r for r in found if r is not None]
    for point, run in zip(plan.points, runs, strict=True):
        print(f"{point.policy:<20} {point.procs:>8} procs  run {run}")
    print(f"stored {len(runs)} runs; compare them with `schedsight runs list`")
    return 0


def _submit_array(wiring: Wiring, plan: SweepPlan) -> int:
    from hpc.slurm.actions import submit_idempotent
    from hpc.slurm.spec import JobSpec
    from schedsight.slurm_commands import audit_trail

    settings = wiring.settings
    path = wiring.data_dir / "sweeps" / f"sweep-{int(time.time() * 1000)}.json"
    plan.save(path)
    spec = JobSpec(
        name="schedsight-sweep",
        command=(sys.executable, "-m", "schedsight", "sweep-task", str(path)),
        account=next(iter(settings.slurm_accounts), None),
        partition=next(iter(settings.slurm_partitions), None),
        array=f"0-{len(plan.points) - 1}",
        time_limit_s=3600,
        workdir=str(path.parent),
        output=str(path.parent / "sweep-%A_%a.out"),
        env={"PYTHONPATH": os.environ.get("PYTHONPATH", "")},
    )
    backend = wiring.slurm_backend()
    audit = audit_trail(wiring, None)
    result = submit_idempotent(backend, spec, remit=wiring.remit(), audit=audit,
                               backoff=wiring.backoff())  # fmt: skip
    return result.job_id


def _wait(wiring: Wiring, job_id: int) -> None:
    backend = wiring.slurm_backend()
    while True:
        tasks = backend.jobs([job_id])
        if all(t.finished for t in tasks):  # none listed: ended longer ago than MinJobAge
            return
        time.sleep(2)


def cmd_sweep_task(args: argparse.Namespace) -> int:
    from pathlib import Path

    from schedsight.sweeping import SweepPlan, array_index, run_point

    try:
        index = array_index()
    except ValueError as exc:
        raise CliError(str(exc)) from None
    plan = SweepPlan.load(Path(args.plan))
    saved = run_point(wiring_of(args).database_url, plan, index)
    print(f"point {index} ({plan.points[index].policy}, {plan.points[index].procs} procs): "
          f"run {saved.run_id}{' (reused)' if saved.reused else ''}")  # fmt: skip
    return 0

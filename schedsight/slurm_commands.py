"""`schedsight slurm status|import|submit|estimate|apply`: a live Slurm cluster.

Wiring only: settings pick the backend and the remit, the database records the audit trail
and imported workloads; `hpc.slurm` does the work. Names and comments from the cluster are
untrusted: control characters, and bytes that are not UTF-8, are shown escaped (`shown`),
never sent to the terminal raw, in the tables and in `--json` alike.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hpc.slurm.output import is_utf8, shown
from schedsight.arguments import cluster_name
from schedsight.db_commands import actor_name
from schedsight.progress import progress_for
from schedsight.tables import format_duration, format_table
from schedsight.wiring import Wiring, wiring_of

if TYPE_CHECKING:
    from db.audit import AuditTrail
    from db.store import Store
    from hpc.predict.pending import PendingStart
    from hpc.slurm.backend import StartEstimate
    from hpc.slurm.errors import SlurmError
    from hpc.slurm.spec import JobSpec
    from hpc.slurm.state import ClusterState, LiveJob


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from hpc.slurm.backends import BACKENDS

    slurm = sub.add_parser("slurm", help="a live Slurm cluster: read, import, submit, act")
    slurm.add_argument(
        "--backend",
        choices=list(BACKENDS),
        help="how to reach Slurm (default: SCHEDSIGHT_SLURM_BACKEND, cli)",
    )
    slurm.add_argument(
        "--cluster",
        type=cluster_name,
        help="one cluster of a multi-cluster site (default: SCHEDSIGHT_SLURM_CLUSTER, local)",
    )
    cmds = slurm.add_subparsers(dest="slurm_command", required=True)

    status = cmds.add_parser("status", help="nodes, partitions and the queue")
    status.add_argument("--json", action="store_true")
    status.add_argument(
        "--model",
        action="store_true",
        help="also the start-time model's median for each pending job (trains on the "
        "cluster's imported history first)",
    )
    status.set_defaults(run=cmd_status)

    imp = cmds.add_parser("import", help="accounting history (sacct) -> a stored workload")
    imp.add_argument("--days", type=float, default=7.0, help="how far back (default 7)")
    imp.add_argument("--name", help="workload name (default: slurm-CLUSTER-DATE)")
    imp.set_defaults(run=cmd_import)

    submit = cmds.add_parser("submit", help="submit a job (idempotent with --token)")
    _add_spec_options(submit)
    submit.add_argument("--token", help="client token: a retried submit with it never duplicates")
    submit.add_argument(
        "--actor", type=actor_name, help="who asks (audit log; default: your user name)"
    )
    submit.set_defaults(run=cmd_submit)

    est = cmds.add_parser("estimate", help="Slurm's start estimate: a pending job or a spec")
    est.add_argument("--job", type=int, help="a pending job's planned start")
    _add_spec_options(est, required=False)
    est.set_defaults(run=cmd_estimate)

    apply = cmds.add_parser("apply", help="hold, release, nice, priority, begin, dependency")
    apply.add_argument("job_id", type=int)
    apply.add_argument("action", help="hold release nice priority begin dependency")
    apply.add_argument("value", nargs="?", help="nice/priority number, begin time, dependency")
    apply.add_argument(
        "--actor", type=actor_name, help="who asks (audit log; default: your user name)"
    )
    apply.set_defaults(run=cmd_apply)


def _add_spec_options(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    p.add_argument("--name", required=required, help="job name")
    p.add_argument("--account", help="account (default: the first of SCHEDSIGHT_SLURM_ACCOUNTS)")
    p.add_argument("--partition", help="partition (default: the first in the remit)")
    p.add_argument("--nodes", type=int, default=1)
    p.add_argument("--ntasks", type=int, default=1)
    p.add_argument("--cpus-per-task", type=int, default=1)
    p.add_argument("--gpus", type=int, default=0, help="GPUs for the whole job")
    p.add_argument("--gpu-type", help="e.g. a100")
    p.add_argument("--time", type=int, default=60, help="time limit in minutes")
    p.add_argument("--mem-per-cpu", type=int, help="MB")
    p.add_argument("--array", help="array indices, e.g. 0-9%%2")
    p.add_argument("--dependency", help="e.g. afterok:123")
    p.add_argument("--begin", help="YYYY-MM-DDTHH:MM or now+N{minutes,hours,days}")
    p.add_argument("--hold", action="store_true", help="submit held")
    p.add_argument("--comment", default="")
    p.add_argument("--workdir", default="/tmp", help="absolute working directory")
    p.add_argument("--output", help="stdout file (Slurm patterns %%j %%A %%a allowed)")
    p.add_argument("command", nargs="*", help="the command and its arguments (after --)")


# ---------------------------------------------------------------- wiring
def say_retry(attempt: int, delay: float, exc: SlurmError) -> None:
    print(f"schedsight: attempt {attempt} failed ({exc}); retrying in {delay:g} s", file=sys.stderr)


def _when(t: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"


# ---------------------------------------------------------------- status
def _state_dict(state: ClusterState, starts: Mapping[int, PendingStart]) -> dict[str, Any]:
    return {
        "cluster": state.cluster,
        "release": state.release,
        "backend": state.backend,
        "machine": state.machine().describe(),
        "nodes": [
            {
                "name": n.name,
                "state": n.label,
                "cpus": n.cpus,
                "alloc_cpus": n.alloc_cpus,
                "mem_mb": n.mem_mb,
                "gpus": n.gpus,
                "gpus_used": n.gpus_used,
                "gpu_type": n.gpu_type,
                "partitions": list(n.partitions),
                "reason": n.reason,
            }
            for n in state.nodes
        ],
        "partitions": [
            {
                "name": p.name,
                "nodes": list(p.nodes),
                "max_time_s": p.max_time_s,
                "default": p.default,
                "state": p.state,
            }
            for p in state.partitions
        ],
        "jobs": [
            {
                "job_id": j.job_id,
                "id": j.display_id,
                "name": shown(j.name),
                "user": shown(j.user),
                "account": shown(j.account),
                "partition": shown(j.partition),
                "state": j.state,
                "reason": j.reason,
                "reason_text": j.reason_text,
                "cpus": j.cpus,
                "gpus": j.gpus,
                "submit_s": j.submit_s,
                "start_s": j.start_s,
                "priority": j.priority,
                **_expected(starts.get(j.job_id)),
            }
            for j in state.jobs
            if not j.finished
        ],
    }


def _expected(start: PendingStart | None) -> dict[str, Any]:
    if start is None:
        return {}
    p50 = None if start.model_p50_s is None else round(start.model_p50_s)
    return {"planned_start_s": start.plan_s, "predicted_start_s": p50}


def _store_for_plans(wiring: Wiring) -> Store | None:
    """The store, for the stored site and model; None (said on stderr) when it cannot be
    opened: the queue is then planned on one pool per partition."""
    from db.errors import DbError

    try:
        return wiring.open_store()
    except DbError as exc:
        print(f"schedsight: planning without a stored site ({exc})", file=sys.stderr)
        return None


def cmd_status(args: argparse.Namespace) -> int:
    from hpc.slurm.retry import with_retry
    from schedsight.live import LiveSource

    wiring = wiring_of(args)
    backend = wiring.slurm_backend(args.backend, cluster=args.cluster)
    state = with_retry(
        backend.cluster_state, wiring.backoff(), what="reading the cluster", on_retry=say_retry
    )
    starts: dict[int, PendingStart] = {}
    if state.pending:
        source = LiveSource(backend, wiring.backoff(), _store_for_plans(wiring), asked_by="status")
        starts = source.pending_starts(state, model=args.model)
    if args.json:
        print(json.dumps(_state_dict(state, starts), indent=2))
        return 0
    print(
        f"cluster {state.cluster} (Slurm {state.release}, via {state.backend}): "
        f"{len(state.nodes)} nodes, {sum(n.cpus for n in state.nodes)} cores, "
        f"{sum(n.gpus for n in state.nodes)} GPUs"
    )
    node_rows = [
        [
            n.name,
            n.label,
            f"{n.alloc_cpus}/{n.cpus}",
            f"{n.alloc_mem_mb}/{n.mem_mb}",
            f"{n.gpus_used}/{n.gpus}" + (f" {n.gpu_type}" if n.gpu_type else ""),
            ",".join(n.partitions),
        ]
        for n in state.nodes
    ]
    print()
    print(format_table(["node", "state", "cpus", "mem MB", "gpus", "partitions"], node_rows))
    part_rows = [
        [
            p.name + ("*" if p.default else ""),
            p.state,
            str(len(p.nodes)),
            "unlimited" if p.max_time_s is None else format_duration(p.max_time_s),
        ]
        for p in state.partitions
    ]
    print()
    print(format_table(["partition", "state", "nodes", "max time"], part_rows))
    print()
    print_queue(state.jobs, starts)
    return 0


def print_queue(jobs: Sequence[LiveJob], starts: Mapping[int, PendingStart] | None = None) -> None:
    """The jobs that have not finished, one row each, every text from Slurm `shown`; with
    `starts`, each pending job's start as the forward plan (and the model) expect it."""
    starts = starts or {}
    queue = [j for j in jobs if not j.finished]
    running = sum(j.running for j in queue)
    print(f"queue: {running} running, {sum(j.pending for j in queue)} pending")
    if queue:
        rows = [
            [
                j.display_id,
                shown(j.name)[:24],
                shown(j.user),
                shown(j.account),
                shown(j.partition),
                j.state.lower(),
                str(j.cpus),
                str(j.gpus),
                _when(j.start_s),
                _expected_text(starts.get(j.job_id)),
                shown(j.reason_text) if j.pending else "",
            ]
            for j in queue
        ]
        headers = ["job", "name", "user", "account", "partition", "state", "cpus", "gpus"]
        print(format_table([*headers, "start (slurm)", "expected", "why pending"], rows))


def _expected_text(start: PendingStart | None) -> str:
    """`plan today 14:05 / model today 14:20` as the local clock reads them."""
    if start is None:
        return ""
    from hpc.timetext import clock_text

    now = time.time()
    parts = [f"plan {clock_text(start.plan_s, now)}" if start.plan_s else "plan -"]
    if start.model_p50_s is not None:
        parts.append(f"model {clock_text(start.model_p50_s, now)}")
    return " / ".join(parts)


# ---------------------------------------------------------------- import
def cmd_import(args: argparse.Namespace) -> int:
    from db.clusters import NodeSpec, save_cluster
    from db.job_resources import save_job_resources
    from db.session import transaction
    from db.workloads import import_workload
    from hpc.slurm.accounting import job_resources, to_swf
    from hpc.slurm.errors import SlurmError
    from hpc.slurm.retry import with_retry
    from hpc.slurm.state import FINISHED_STATES
    from hpc.workload.cleaning import Estimate, clean
    from schedsight.accuracy import record_starts, started_in

    if args.name is not None and not is_utf8(args.name):
        raise SlurmError(f"workload name '{shown(args.name)}' is not valid UTF-8: type it in UTF-8")
    wiring = wiring_of(args)
    store = wiring.open_store()  # fail early on a stale schema
    backend = wiring.slurm_backend(args.backend, cluster=args.cluster)
    backoff = wiring.backoff()
    with progress_for(args, total=4, what="cluster, history, clean, store") as advance:
        state = with_retry(backend.cluster_state, backoff, what="reading the cluster")
        advance(1)
        start_s = int(time.time() - args.days * 86400)
        records = with_retry(
            lambda: backend.history(start_s=start_s),
            backoff,
            what="reading the accounting history",
            on_retry=say_retry,
        )
        advance(1)
        finished = [r for r in records if r.state in FINISHED_STATES and r.started]
        if not finished:
            raise SlurmError(f"no finished jobs in the last {args.days:g} days on {state.cluster}")

        name = args.name or f"slurm-{state.cluster}-{time.strftime('%Y%m%d')}"
        trace = to_swf(
            finished, source=f"slurm:{state.cluster}:{backend.name}", cluster=state.cluster
        )
        machine = state.machine()
        _, report = clean(trace, machine=machine, estimate=Estimate.REQUESTED)
        advance(1)
        with transaction(store.sessions) as session:
            save_cluster(
                session,
                name=state.cluster,
                source=backend.name,
                nodes=[
                    NodeSpec(n.name, n.cpus, n.gpus, n.mem_mb, n.label, n.partitions)
                    for n in state.nodes
                ],
                partitions={p.name: p.max_time_s for p in state.partitions},
            )
            result = import_workload(session, trace=trace, name=name, cleaning=report)
            workload_id = result.workload.id
            save_job_resources(session, workload_id, job_resources(finished))
        # Starts from the accounting, and from the queue for jobs still running.
        starts = started_in(state)
        starts.update({r.job_id: r.start_s for r in records if r.start_s and r.started})
        judged = record_starts(store, state.cluster, starts)
        advance(1)
    waits = sorted(w for r in finished if (w := r.wait_s) is not None)
    states = Counter(r.state for r in finished)
    how = "stored as new" if result.created else "already stored as"
    print(
        f"imported {len(trace)} finished jobs from {state.cluster} (last {args.days:g} days): "
        f"{how} workload {workload_id} ({name})"
    )
    if waits:
        print(
            f"  real wait (start - eligible): median {format_duration(waits[len(waits) // 2])}, "
            f"max {format_duration(waits[-1])}"
        )
    print("  ended: " + ", ".join(f"{s.lower()} {n}" for s, n in states.most_common()))
    for line in report.lines():
        print(f"  cleaning: {line}")
    if judged:
        print(f"  outcomes: {judged} stored predictions now have their job's actual start")
    return 0


# ---------------------------------------------------------------- submit / estimate / apply
def _spec(args: argparse.Namespace, wiring: Wiring) -> JobSpec:
    from hpc.slurm.errors import SlurmError
    from hpc.slurm.spec import JobSpec

    settings = wiring.settings
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not args.name or not command:
        raise SlurmError("give --name and the command after --, e.g. -- python train.py")
    return JobSpec(
        name=args.name,
        command=tuple(command),
        account=args.account or next(iter(settings.slurm_accounts), None),
        partition=args.partition or next(iter(settings.slurm_partitions), None),
        nodes=args.nodes,
        ntasks=args.ntasks,
        cpus_per_task=args.cpus_per_task,
        gpus=args.gpus,
        gpu_type=args.gpu_type,
        time_limit_s=args.time * 60,
        mem_per_cpu_mb=args.mem_per_cpu,
        array=args.array,
        dependency=args.dependency,
        begin=args.begin,
        hold=args.hold,
        comment=args.comment,
        workdir=args.workdir,
        output=args.output,
    )


def audit_trail(wiring: Wiring, actor: str | None) -> AuditTrail:
    from db.audit import AuditTrail

    return AuditTrail(wiring.open_store().sessions, actor=actor or getpass.getuser())


def cmd_submit(args: argparse.Namespace) -> int:
    from hpc.slurm.actions import submit_idempotent

    wiring = wiring_of(args)
    spec = _spec(args, wiring)
    audit = audit_trail(wiring, args.actor)
    backend = wiring.slurm_backend(args.backend, cluster=args.cluster)
    result = submit_idempotent(
        backend,
        spec,
        remit=wiring.remit(),
        audit=audit,
        backoff=wiring.backoff(),
        token=args.token,
    )
    note = "" if result.created else " (already submitted with this token)"
    print(f"job {result.job_id}{note}; token {result.token}")
    return 0


def _print_estimate(est: StartEstimate) -> None:
    where = f" on {est.nodes}" if est.nodes else ""
    part = f" in {est.partition}" if est.partition else ""
    if est.start_s is None:
        print(f"job {est.job_id}: Slurm has no planned start yet ({est.source})")
    else:
        wait = max(0, est.start_s - int(time.time()))
        print(
            f"start {_when(est.start_s)} (in {format_duration(wait)}){where}{part} "
            f"[slurm {est.source}]"
        )


def cmd_estimate(args: argparse.Namespace) -> int:
    from hpc.slurm.estimate import estimate_start, planned_start

    wiring = wiring_of(args)
    backend = wiring.slurm_backend(args.backend, cluster=args.cluster)
    if args.job is not None:
        _print_estimate(planned_start(backend, args.job, backoff=wiring.backoff()))
    else:
        _print_estimate(estimate_start(backend, _spec(args, wiring), backoff=wiring.backoff()))
    return 0


def cmd_apply(args: argparse.Namespace) -> int:
    from hpc.slurm.actions import Action, apply_action

    wiring = wiring_of(args)
    action = Action.parse(args.action, args.value)
    audit = audit_trail(wiring, args.actor)
    backend = wiring.slurm_backend(args.backend, cluster=args.cluster)
    apply_action(
        backend,
        args.job_id,
        action,
        remit=wiring.remit(),
        audit=audit,
        backoff=wiring.backoff(),
    )
    print(f"{action.describe()}: sent to job {args.job_id} (recorded in the audit log)")
    return 0

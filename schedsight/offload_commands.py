"""`schedsight offload list|check|run|runs`: OpenMP offload workloads on Slurm.

Wiring only: settings give the toolchain paths, the Slurm backend, the remit and the run
directory; `hpc.offload` builds the scripts and runs them; the database keeps every run (its
device, times and output check) for the predictors.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpc.offload.errors import ProfileUnavailableError
from hpc.offload.examples import EXAMPLES, example
from hpc.offload.job import OffloadJob, OffloadPolicy
from hpc.offload.profiles import DiompPaths, GpuVendor, Runtime
from schedsight.db_commands import actor_name
from schedsight.tables import format_table
from schedsight.wiring import wiring_of

if TYPE_CHECKING:
    from hpc.offload.run import OffloadRun, Placement
    from schedsight.settings import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    off = sub.add_parser("offload", help="OpenMP target-offload and DiOMP workloads on Slurm")
    cmds = off.add_subparsers(dest="offload_command", required=True)
    cmds.add_parser("list", help="the shipped example kernels").set_defaults(run=cmd_list)

    check = cmds.add_parser("check", help="is a runtime's toolchain usable here? (what is missing)")
    check.add_argument("--runtime", choices=[r.value for r in Runtime], default="gcc-openmp")
    check.add_argument("--mpi", action="store_true", help="also an MPI compiler")
    check.set_defaults(run=cmd_check)

    run = cmds.add_parser("run", help="build and run an example as a Slurm job, and record it")
    run.add_argument("example", help=f"one of: {', '.join(EXAMPLES)}")
    run.add_argument("--ranks", type=int, default=1)
    run.add_argument("--nodes", type=int, help="default: 2 for an MPI example with 2+ ranks")
    run.add_argument("--gpus-per-rank", type=int, default=0)
    run.add_argument("--cpus-per-rank", type=int, default=1)
    run.add_argument("--runtime", choices=[r.value for r in Runtime], default="gcc-openmp")
    run.add_argument(
        "--policy", choices=[p.value for p in OffloadPolicy], default="default",
        help="OMP_TARGET_OFFLOAD (default: unset, host fallback allowed)",
    )  # fmt: skip
    run.add_argument("--mpi", default="pmix", help="srun --mpi plugin for MPI examples")
    run.add_argument("--account", help="default: the first of SCHEDSIGHT_SLURM_ACCOUNTS")
    run.add_argument("--partition", help="default: the first of SCHEDSIGHT_SLURM_PARTITIONS")
    size = run.add_mutually_exclusive_group()
    size.add_argument("--gpu-size", action="store_true", help="the example's GPU-sized problem")
    size.add_argument("--args", nargs="+", metavar="ARG", help="the example's own arguments")
    run.add_argument("--timeout-s", type=float, default=600, help="wait at most this long")
    run.add_argument(
        "--actor", type=actor_name, help="who asks (audit log; default: your user name)"
    )
    run.add_argument("--json", action="store_true")
    run.set_defaults(run=cmd_run)

    runs = cmds.add_parser("runs", help="stored offload runs, newest first")
    runs.add_argument("--name", help="only this example's runs")
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--json", action="store_true")
    runs.set_defaults(run=cmd_runs)


def _diomp(settings: Settings) -> DiompPaths:
    return DiompPaths(
        home=settings.diomp_home,
        gasnet_home=settings.diomp_gasnet_home,
        gasnet_conduit=settings.diomp_gasnet_conduit,
        nccl_home=settings.diomp_nccl_home,
        clang=settings.diomp_clang,
    )


def cmd_list(args: argparse.Namespace) -> int:
    rows = [
        [e.name, "MPI+OpenMP" if e.mpi else "OpenMP", " ".join(e.default_args), e.summary]
        for e in EXAMPLES.values()
    ]
    print(format_table(["example", "kind", "default args", "what"], rows))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from hpc.offload.run import profile_for

    settings = wiring_of(args).settings
    probe = OffloadJob(
        name="check",
        source=example("halo_mpi" if args.mpi else "saxpy").source,
        runtime=Runtime(args.runtime),
        vendor=GpuVendor(settings.offload_gpu_vendor),
        mpi="pmix" if args.mpi else None,
    )
    try:
        profile = profile_for(probe, arch=settings.offload_gpu_arch, diomp=_diomp(settings))
    except ProfileUnavailableError as exc:
        print(f"schedsight: {exc}", file=sys.stderr)
        return 1
    assert profile is not None
    argv = profile.compile_argv("SOURCE.c", "app", mpi=args.mpi)
    print(f"{args.runtime}: usable; builds with: {' '.join(argv)}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from db.audit import AuditTrail
    from db.offload import record_offload_run
    from db.session import transaction
    from hpc.offload.run import Placement, profile_for, run_on_slurm

    wiring = wiring_of(args)
    settings = wiring.settings
    ex = example(args.example)
    nodes = args.nodes or (2 if ex.mpi and args.ranks >= 2 else 1)
    job = OffloadJob(
        name=f"offload-{ex.name}",
        source=ex.source,
        args=tuple(args.args or (ex.gpu_args if args.gpu_size else ex.default_args)),
        ranks=args.ranks,
        nodes=nodes,
        gpus_per_rank=args.gpus_per_rank,
        cpus_per_rank=args.cpus_per_rank,
        runtime=Runtime(args.runtime),
        policy=OffloadPolicy(args.policy),
        vendor=GpuVendor(settings.offload_gpu_vendor),
        mpi=args.mpi if ex.mpi else None,
    )
    profile = profile_for(job, arch=settings.offload_gpu_arch, diomp=_diomp(settings))
    store = wiring.open_store()  # fail early on a stale schema
    backend = wiring.slurm_backend()
    root = settings.offload_dir or settings.data_dir / "offload"
    workdir = root / f"{ex.name}-{uuid.uuid4().hex[:12]}"
    place = Placement(
        account=args.account or next(iter(settings.slurm_accounts), None),
        partition=args.partition or next(iter(settings.slurm_partitions), None),
        gpu_type=settings.offload_gpu_type,
    )
    print(f"schedsight: running {ex.name} from {workdir}", file=sys.stderr)
    done = run_on_slurm(
        backend,
        job,
        workdir=workdir,
        profile=profile,
        place=place,
        remit=wiring.remit(),
        audit=AuditTrail(store.sessions, actor=args.actor or getpass.getuser()),
        backoff=wiring.backoff(),
        timeout_s=args.timeout_s,
    )
    cluster = backend.cluster_state().cluster
    with transaction(store.sessions) as session:
        row_id = record_offload_run(session, **_row(done, cluster, place, workdir)).id
    summary = _summary(done) | {"run_id": row_id, "cluster": cluster}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for key, value in summary.items():
            print(f"{key:>13}: {value}")
    if not done.succeeded:
        tail = "\n".join(done.output.splitlines()[-15:])
        print(f"schedsight: job {done.job_id} did not succeed; last output lines:\n{tail}",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _summary(done: OffloadRun) -> dict[str, Any]:
    r = done.report
    return {
        "example": done.job.name,
        "slurm_job_id": done.job_id,
        "state": done.state,
        "exit_code": done.exit_code,
        "device": r.device.value,
        "elapsed_s": done.elapsed_s,
        "kernel_s": r.kernel_s,
        "check_ok": r.check_ok,
        "check": r.check_detail,
        "workdir": str(done.workdir),
    }


def _row(done: OffloadRun, cluster: str, place: Placement, workdir: Path) -> dict[str, Any]:
    job, r = done.job, done.report
    return {
        "name": job.name, "runtime": job.runtime.value, "policy": job.policy.value,
        "ranks": job.ranks, "nodes": job.nodes, "gpus_per_rank": job.gpus_per_rank,
        "cluster": cluster, "slurm_job_id": done.job_id, "state": done.state,
        "exit_code": done.exit_code, "device": r.device.value, "elapsed_s": done.elapsed_s,
        "kernel_s": r.kernel_s, "check_ok": r.check_ok, "check_detail": r.check_detail,
        "spec": {"args": list(job.args), "env": job.env, "cpus_per_rank": job.cpus_per_rank,
                 "mpi": job.mpi, "vendor": job.vendor.value, "account": place.account,
                 "partition": place.partition, "workdir": str(workdir),
                 "ranks_reporting": r.ranks_reporting},
    }  # fmt: skip


def cmd_runs(args: argparse.Namespace) -> int:
    from db.offload import list_offload_runs
    from db.session import transaction

    store = wiring_of(args).open_store()
    with transaction(store.sessions) as session:
        rows = list_offload_runs(session, name=args.name, limit=args.limit)
        out = [
            {"id": r.id, "name": r.name, "runtime": r.runtime, "ranks": r.ranks,
             "gpus_per_rank": r.gpus_per_rank, "job": r.slurm_job_id, "state": r.state,
             "device": r.device, "elapsed_s": r.elapsed_s, "kernel_s": r.kernel_s,
             "check_ok": r.check_ok, "at": r.created_at.isoformat()}
            for r in rows
        ]  # fmt: skip
    if args.json:
        print(json.dumps(out, indent=2))
    elif not out:
        print("no offload runs stored yet: `schedsight offload run saxpy`")
    else:
        headers = list(out[0])
        print(format_table(headers, [[str(row[h]) for h in headers] for row in out]))
    return 0

"""The `schedsight` command: simulate, compare and generate workloads.

User errors (bad input, bad options) print one line to stderr and exit with status 2;
no traceback. Reports go to stderr so that `--json` output on stdout stays machine-readable.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from schedsight import (
    agent_commands,
    api_commands,
    dashboard_commands,
    db_commands,
    llm_commands,
    offload_commands,
    predict_commands,
    site_commands,
    slurm_commands,
    sweep_commands,
    when_commands,
)
from schedsight.arguments import (
    ESTIMATES,
    MAX_CORES_PER_NODE,
    MAX_JOBS,
    MAX_MEM_PER_NODE_MB,
    MAX_NODES,
    MAX_PROCS,
    MAX_SEED,
    CliError,
    Parser,
    float_in,
    int_in,
)
from schedsight.extras import needs_extra
from schedsight.progress import progress_for
from schedsight.wiring import wiring_of

if TYPE_CHECKING:
    from hpc.sim import CapacityChange, Policy
    from hpc.workload.loading import LoadedWorkload
    from hpc.workload.trace import SwfTrace

EXIT_USAGE = 2
MAIN_POLICIES = "fcfs:none,fcfs:easy,fcfs:conservative,sjf:easy,wfp3:easy,f1:easy,multifactor:easy"


def build_parser() -> argparse.ArgumentParser:
    # Parser: one-line argument errors; its subparsers are of the same class.
    parser: argparse.ArgumentParser = Parser(
        prog="schedsight", description="HPC job-scheduling decision support."
    )
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv: debug)")  # fmt: skip
    parser.add_argument("-q", "--quiet", action="store_true", help="errors only")
    sub = parser.add_subparsers(dest="command", required=True)

    from hpc.sim.policy import backfill_names, order_names

    sim = sub.add_parser("simulate", help="replay a workload under one policy")
    _add_workload_options(sim)
    sim.add_argument("--policy", default="fcfs", help=f"queue order: {' '.join(order_names())}")
    sim.add_argument("--backfill", default="easy", help=f"one of: {', '.join(backfill_names())}")
    sim.add_argument("--by", choices=["user", "partition"], help="also print a breakdown")
    sim.add_argument("--save", action="store_true", help="store the run in the database")
    sim.add_argument(
        "--recompute", action="store_true", help="with --save: replay even if a stored run exists"
    )
    sim.add_argument(
        "--site",
        metavar="NAME[@VERSION]",
        help="replay on a stored site (`schedsight site import`): partitions, GPUs, QOS, "
        "reservations, Slurm's priority; prints per-partition figures",
    )
    sim.add_argument(
        "--change",
        action="append",
        default=[],
        metavar="WHAT-IF",
        help='with --site, a change to it (repeatable): "add 4 nodes to gpu", "qos normal '
        'MaxTRESPU=cpu=64", "reserve gpu from 2d for 4h", "fail switch s1" ...',
    )
    sim.add_argument(
        "--placement",
        choices=["best-fit", "topology"],
        help="with --site, how a multi-node job's nodes are chosen: topology (Slurm's "
        "topology/tree: under one switch, on the fewest leaf switches; the default where the "
        "site has switches) or best-fit (select/cons_tres alone; the default without)",
    )
    sim.set_defaults(run=_cmd_simulate)

    cmp = sub.add_parser("compare", help="replay a workload under several policies")
    _add_workload_options(cmp)
    cmp.add_argument(
        "--policies",
        default=MAIN_POLICIES,
        help=f"comma-separated ORDER:BACKFILL (default {MAIN_POLICIES})",
    )
    cmp.set_defaults(run=_cmd_compare)

    gen = sub.add_parser("generate", help="write a synthetic Lublin–Feitelson workload (SWF)")
    gen.add_argument("--jobs", type=int_in(1, MAX_JOBS), required=True,
                     help=f"number of jobs (1..{MAX_JOBS:,})")  # fmt: skip
    gen.add_argument("--seed", type=int_in(0, MAX_SEED), default=0,
                     help="random seed (same seed, same workload)")  # fmt: skip
    gen.add_argument("--procs", type=int_in(1, MAX_PROCS), default=256,
                     help="machine size in processors")  # fmt: skip
    gen.add_argument("-o", "--output", required=True, help="output file (.swf or .swf.gz)")
    gen.set_defaults(run=_cmd_generate)

    dbp = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True
    )
    upgrade = dbp.add_parser("upgrade", help="create or migrate the schema")
    upgrade.set_defaults(run=db_commands.cmd_db_upgrade)
    status = dbp.add_parser("status", help="schema revision and database")
    status.set_defaults(run=db_commands.cmd_db_status)
    grant = dbp.add_parser("grant-app-role", help="PostgreSQL: privileges for the app's own role")
    grant.add_argument("role", help="an existing role; run this as the tables' owner")
    grant.set_defaults(run=db_commands.cmd_db_grant_app_role)

    llm_commands.add_parser(sub)
    agent_commands.add_parser(sub)
    slurm_commands.add_parser(sub)
    when_commands.add_parser(sub)
    api_commands.add_parser(sub)
    site_commands.add_parser(sub)
    sweep_commands.add_parser(sub)
    predict_commands.add_parser(sub)
    offload_commands.add_parser(sub)
    dashboard_commands.add_parser(sub)

    runs = sub.add_parser("runs", help="stored simulation runs").add_subparsers(
        dest="runs_command", required=True
    )
    listing = runs.add_parser("list", help="newest first")
    listing.add_argument("--limit", type=db_commands.run_limit, default=20,
                         help="how many (1 to 10000)")  # fmt: skip
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=db_commands.cmd_runs_list)
    show = runs.add_parser("show", help="one run in full")
    show.add_argument("run_id", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=db_commands.cmd_runs_show)
    return parser


class _Version(argparse.Action):
    """`--version`, read from the installed package's metadata only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help=str(kwargs.get("help", "")))

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("schedsight")
        except PackageNotFoundError:  # a checkout run without installing it
            found = "(not installed)"
        print(f"schedsight {found}")
        parser.exit(0)


def _add_workload_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", help="SWF file (plain or .gz), or workload:ID from `slurm import`")
    machine = p.add_argument_group("machine (default: the trace header's MaxProcs/MaxNodes)")
    machine.add_argument("--procs", type=int_in(1, MAX_PROCS),
                         help="processors only, no node structure")  # fmt: skip
    machine.add_argument("--nodes", type=int_in(1, MAX_NODES),
                         help="nodes (whole nodes are allocated)")  # fmt: skip
    machine.add_argument("--cores-per-node", type=int_in(1, MAX_CORES_PER_NODE),
                         help="cores per node (with --nodes)")  # fmt: skip
    machine.add_argument("--mem-per-node-mb", type=int_in(1, MAX_MEM_PER_NODE_MB),
                         help="memory per node in MB (with --nodes)")  # fmt: skip
    p.add_argument(
        "--estimate",
        choices=ESTIMATES,
        default="requested",
        help="what the scheduler sees as a job's time: its request (falls back to the actual "
        "runtime where the trace has none) or the actual runtime",
    )
    p.add_argument("--skip-bad", action="store_true", help="skip malformed lines and report them")
    p.add_argument("--no-kill", action="store_true", help="let jobs run past their requested time")
    p.add_argument(
        "--capacity",
        action="append",
        default=[],
        metavar="KIND@TIME:UNITS",
        help="node failure/drain/return, e.g. fail@86400:32 (repeatable; TIME in trace seconds)",
    )
    weights = p.add_argument_group("multifactor weights")
    for name in ("age", "fairshare", "job_size", "qos"):
        weights.add_argument(f"--w-{name.replace('_', '-')}", type=float_in(0.0, 1e12),
                             dest=f"w_{name}")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print JSON on stdout")


def _stored_trace(args: argparse.Namespace) -> SwfTrace | None:
    """The stored workload `workload:ID` names (from `slurm import`), or None for a file."""
    if not args.trace.startswith("workload:"):
        return None
    number = args.trace.removeprefix("workload:")
    if not number.isdigit():
        raise CliError(f"{args.trace!r}: a stored workload is workload:ID (a number)")
    from db.session import transaction
    from db.workloads import load_trace

    store = wiring_of(args).open_store()
    with transaction(store.sessions) as session:
        return load_trace(session, workload_id=int(number))


def _load(args: argparse.Namespace) -> LoadedWorkload:
    from hpc.workload.cleaning import Estimate
    from hpc.workload.loading import load_workload, prepare_workload

    stored = _stored_trace(args)
    if stored is not None:
        loaded = prepare_workload(
            stored, procs=args.procs, nodes=args.nodes, cores_per_node=args.cores_per_node,
            mem_per_node_mb=args.mem_per_node_mb, estimate=Estimate(args.estimate),
        )  # fmt: skip
        for line in loaded.report_lines():
            print(f"schedsight: {line}", file=sys.stderr)
        return loaded
    loaded = load_workload(
        args.trace,
        procs=args.procs,
        nodes=args.nodes,
        cores_per_node=args.cores_per_node,
        mem_per_node_mb=args.mem_per_node_mb,
        estimate=Estimate(args.estimate),
        skip_bad=args.skip_bad,
    )
    for line in loaded.report_lines():
        print(f"schedsight: {line}", file=sys.stderr)
    return loaded


def _policy(text: str, args: argparse.Namespace) -> Policy:
    from hpc.sim import MultifactorWeights, Policy

    given = {
        n: getattr(args, f"w_{n}")
        for n in ("age", "fairshare", "job_size", "qos")
        if getattr(args, f"w_{n}") is not None
    }
    return Policy.parse(text, weights=MultifactorWeights(**given), kill_at_limit=not args.no_kill)


def _capacity(args: argparse.Namespace) -> list[CapacityChange]:
    from hpc.sim import CapacityChange

    return [CapacityChange.parse(text) for text in args.capacity]


def _cmd_simulate_site(args: argparse.Namespace, policy: Policy) -> int:
    from db.session import transaction
    from db.sites import load_site_version
    from hpc.metrics import summarize
    from hpc.sim.site_engine import simulate_site
    from hpc.sim.site_mapping import demand_from_trace
    from hpc.site.changes import apply_changes, parse_change
    from schedsight.tables import format_partitions, format_summaries

    if args.save or args.capacity:
        raise CliError("--site replays do not take --save or --capacity yet: drop them")
    changes = [parse_change(text) for text in args.change]
    name, _, number = args.site.partition("@")
    if number and not number.isdigit():
        raise CliError(f"--site {args.site!r}: give NAME or NAME@VERSION (a number)")
    store = wiring_of(args).open_store()
    with transaction(store.sessions) as session:
        version, site = load_site_version(session, name, int(number) if number else None)
    if args.procs is None and args.nodes is None:
        # Cleaned for the site as it is: a job the what-if makes impossible stays in, and is
        # counted as never started, instead of vanishing from the figures.
        args.procs = site.totals()["cores"]
    site = apply_changes(site, changes)
    loaded = _load(args)
    resources = {}
    if args.trace.startswith("workload:"):  # GPUs, accounts, QOS kept by `slurm import`
        from db.job_resources import load_job_resources

        with transaction(store.sessions) as session:
            resources = load_job_resources(session, int(args.trace.removeprefix("workload:")))
    demand = demand_from_trace(loaded.jobs, loaded.trace.header, site, resources)
    replay = simulate_site(loaded.jobs, site, policy, demand, placement=args.placement)
    summary = summarize(replay.result)
    partitions = replay.partition_summary()
    where = f"site {site.name} version {version}"
    if changes:
        where += " with " + "; ".join(c.text for c in changes)
    if args.json:
        out: dict[str, object] = {"trace": args.trace, "site": where}
        out["placement"] = replay.rule.value
        out.update(summary.as_dict())
        out["partitions"] = [row.as_dict() for row in partitions]
        print(json.dumps(out, indent=2))
        return 0
    print(
        f"{args.trace} on {where} ({len(site.nodes)} nodes, {len(site.partitions)} partitions), "
        f"{replay.rule.value} placement"
    )
    print(format_summaries([summary]))
    print(format_partitions(partitions))
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from hpc.metrics import GroupRow, Summary, breakdown, summarize
    from hpc.sim import simulate
    from hpc.workload.cleaning import Estimate
    from schedsight.tables import format_breakdown, format_summaries

    policy = _policy(f"{args.policy}:{args.backfill}", args)
    if args.site:
        return _cmd_simulate_site(args, policy)
    if args.change or args.placement:
        what = "--change changes" if args.change else "--placement places jobs on"
        raise CliError(f"{what} a site: give --site NAME too")
    changes = _capacity(args)
    if args.recompute and not args.save:
        raise CliError("--recompute only makes sense with --save")
    store = wiring_of(args).open_store() if args.save else None  # fail early on a stale schema
    loaded = _load(args)
    if store is None:
        result = simulate(loaded.jobs, loaded.machine, policy, capacity_changes=changes)
        summary = summarize(result)
        rows = breakdown(result, args.by) if args.by else []
    else:
        from db.scenarios import ScenarioSpec
        from schedsight.storage import run_and_save

        spec = ScenarioSpec(policy, loaded.machine, Estimate(args.estimate), tuple(changes))
        saved = run_and_save(store, loaded, spec, recompute=args.recompute)
        how = "reused stored run" if saved.reused else "saved run"
        print(
            f"schedsight: {how} {saved.run_id} (scenario {saved.scenario_id}, workload "
            f"{saved.workload_id}); see `schedsight runs show {saved.run_id}`",
            file=sys.stderr,
        )
        summary = Summary(**saved.metrics)
        stored = {"user": saved.per_user, "partition": saved.per_partition}
        rows = [GroupRow(**r) for r in stored[args.by]] if args.by else []
    if args.json:
        out: dict[str, object] = {"trace": args.trace, "machine": loaded.machine.describe()}
        out.update(summary.as_dict())
        if rows:
            out[f"by_{args.by}"] = [row.as_dict() for row in rows]
        print(json.dumps(out, indent=2))
    else:
        print(f"{args.trace} on {loaded.machine.describe()}")
        print(format_summaries([summary]))
        if rows:
            print(format_breakdown(rows, args.by))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from hpc.metrics import summarize
    from schedsight.tables import format_summaries

    names = [p.strip() for p in args.policies.split(",") if p.strip()]
    if not names:
        raise CliError("--policies is empty: give e.g. fcfs:none,sjf:easy")
    policies = [_policy(name, args) for name in names]  # validate all before the long part
    changes = _capacity(args)
    loaded = _load(args)
    from hpc.compare import replay_policies

    with progress_for(args, total=len(policies), what="policies") as advance:
        results = replay_policies(
            loaded.jobs,
            loaded.machine,
            policies,
            capacity_changes=changes,
            on_start=lambda _i, _p: advance(1),
        )
    summaries = [summarize(r) for r in results]
    if args.json:
        print(json.dumps([s.as_dict() for s in summaries], indent=2))
    else:
        print(f"{args.trace}: {len(loaded.jobs)} jobs on {loaded.machine.describe()}")
        print(format_summaries(summaries))
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from hpc.workload.lublin import generate
    from hpc.workload.swf import write_swf

    with progress_for(args, total=2, what="generate, write") as advance:
        trace = generate(args.jobs, seed=args.seed, procs=args.procs)
        advance(1)
        write_swf(trace, args.output)
        advance(1)
    print(f"wrote {len(trace)} jobs (seed {args.seed}, {args.procs} procs) to {args.output}")
    return 0


class Terminated(BaseException):
    """SIGTERM, turned into an exception so that open work is closed properly."""


def _on_sigterm(signum: int, _frame: object) -> None:
    raise Terminated(f"terminated by signal {signum} (SIGTERM)")


# Objects allocated between young-generation collections (Python's default: 700). A command
# starts by importing and building hundreds of thousands of objects that live to its end
# (the agent's code, torch, a tokenizer): at 700 the collector ran ~630 times while the
# local LLM server started (0.5-0.6 CPU s) and ~380 times in `agent ask` (0.5 s), walking
# them again and again; at 20,000, 21 and 13 times (0.3 s and 0.15 s).
YOUNG_GC_THRESHOLD = 20_000


def main(argv: Sequence[str] | None = None) -> int:
    gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose, args.quiet)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        from schedsight.settings import Settings
        from schedsight.wiring import Wiring

        # The composition root: settings are read here, once, and handed down.
        args.wiring = Wiring(Settings())
        return int(args.run(args))
    except Terminated as exc:
        print(f"schedsight: {exc}", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        return 130
    except ImportError as exc:
        missing = needs_extra(exc, args.command)
        if missing is None:
            raise
        print(f"schedsight: error: {missing}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"schedsight: error: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        message = _user_error(exc)
        if message is None:
            raise
        print(f"schedsight: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        signal.signal(signal.SIGTERM, previous)


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO)[min(verbose, 1)]
    if verbose >= 2:
        level = logging.DEBUG
    logging.basicConfig(level=level, format="schedsight: %(levelname)s: %(name)s: %(message)s")


# User errors by the module that defines them: a module not loaded raised nothing, so the
# check never imports one (the database and the LLM server are not loaded for a simulate).
_USER_ERRORS = (
    ("hpc.errors", "HpcError"),
    ("db.errors", "DbError"),
    ("inference.errors", "InferenceError"),
    ("schedsight.settings", "SettingsError"),
    ("api.errors", "ApiError"),
    ("pydantic", "ValidationError"),
)


def _user_error(exc: Exception) -> str | None:
    """The one line a user error prints; None for a bug (which keeps its traceback)."""
    if isinstance(exc, CliError):
        return str(exc)
    for module_name, name in _USER_ERRORS:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(exc, getattr(module, name)):
            return str(exc)
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is not None and isinstance(exc, sqlalchemy_exc.SQLAlchemyError):
        from db.errors import first_line

        # The store turns driver errors into DbError; this catches any that slip past it,
        # with the driver's first line only (the rest would dump SQL and its parameters).
        orig = getattr(exc, "orig", None)
        cause = orig if isinstance(exc, sqlalchemy_exc.DBAPIError) and orig is not None else exc
        return f"database: {first_line(cause)}"
    return None

"""`schedsight agent dispatch|advise|ask`: the reasoning agent's three modes on the command line.

Wiring only: settings to an LLM endpoint (the local server when none is configured), the
store for decision records, and printing. The work happens in `agent/`.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

from schedsight import advising, decision_commands
from schedsight.arguments import (
    MAX_CORES_PER_NODE,
    MAX_JOBS,
    MAX_NODES,
    MAX_PROCS,
    MAX_SEED,
    int_in,
    site_ref,
)
from schedsight.wiring import Wiring, wiring_of

if TYPE_CHECKING:
    from agent.llm.client import LLMClient
    from agent.records import DecisionRecord
    from hpc.model import Machine
    from hpc.objectives import Goal
    from hpc.site.whatif import SiteWorkload

# agent.batch.scenarios.FAMILIES and agent.batch.schedule.Objective, spelled out so that
# building the parser loads no agent code (tests/schedsight/test_startup.py keeps them in step).
FAMILIES = ("heterogeneous", "bursty", "adversarial", "tiny", "long", "gpu", "fairness")
OBJECTIVES = ("mean_wait", "weighted_wait", "makespan", "mean_bsld")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agent = sub.add_parser("agent", help="the reasoning agent: dispatch, advise, ask")
    modes = agent.add_subparsers(dest="agent_command", required=True)

    d = modes.add_parser("dispatch", help="schedule a 10-100 job scenario decision by decision")
    d.add_argument("--family", choices=list(FAMILIES), default="heterogeneous")
    d.add_argument("--jobs", type=int_in(3, 1000), default=20)
    d.add_argument("--seed", type=int_in(0, MAX_SEED), default=0)
    d.add_argument("--objective", choices=OBJECTIVES, default="mean_wait")
    d.add_argument("--accounts", help="comma-separated user ids the agent may act on (default all)")
    d.add_argument("--weight", action="append", default=[], metavar="OBJECTIVE=W",
                   help="several objectives instead of --objective, weighted (mean_wait, "
                   "mean_bsld, utilization, fairness, makespan); repeatable")  # fmt: skip
    d.add_argument("--order", metavar="OBJ,OBJ,...",
                   help="several objectives instead of --objective, in this order")  # fmt: skip
    d.add_argument("--constraint", action="append", default=[], metavar="TEXT",
                   help="a hard constraint, as agent advise takes it: 'p95_wait cores<16 <= 1h', "
                   "'utilization >= 50%%', 'fairness_users >= 0.5'; repeatable")  # fmt: skip
    d.add_argument(
        "--llm-picks",
        action="store_true",
        help="the model picks among the search's admissible options (for a stronger model "
        "behind SCHEDSIGHT_LLM_BASE_URL; the embedded one adds nothing here)",
    )
    _common(d, _cmd_dispatch)

    a = modes.add_parser("advise", help="recommend a policy for a workload and goals in words")
    a.add_argument("goals", help='e.g. "keep utilization above 80%%; no job under 16 cores '
                   'waits more than an hour at p95; be fair across accounts"')  # fmt: skip
    a.add_argument("--trace", help="SWF file (default: a generated Lublin workload)")
    a.add_argument("--jobs", type=int_in(1, MAX_JOBS), default=10_000,
                   help="generated workload size")  # fmt: skip
    a.add_argument("--procs", type=int_in(1, MAX_PROCS), default=256,
                   help="machine size for the generated one")  # fmt: skip
    a.add_argument("--seed", type=int_in(0, MAX_SEED), default=0)
    advising.add_options(a)
    _common(a, _cmd_advise)
    decision_commands.add_parsers(modes)

    q = modes.add_parser("ask", help='a what-if in words: "what if we lost 16 nodes next week?"')
    q.add_argument("question")
    q.add_argument(
        "--site",
        type=site_ref,
        metavar="NAME[@VERSION]",
        help="ask about a stored site (`schedsight site import`): the question is read into "
        'what-if change lines ("add 4 nodes to gpu") and answered per partition',
    )
    q.add_argument("--trace", help="SWF file, or with --site also workload:ID (a stored one); "
                   "default: a generated Lublin workload")  # fmt: skip
    q.add_argument("--jobs", type=int_in(1, MAX_JOBS), default=5000,
                   help="generated workload size")  # fmt: skip
    q.add_argument("--nodes", type=int_in(1, MAX_NODES), default=64,
                   help="nodes of the generated machine")  # fmt: skip
    q.add_argument("--cores-per-node", type=int_in(1, MAX_CORES_PER_NODE), default=8)
    q.add_argument("--seed", type=int_in(0, MAX_SEED), default=0)
    q.add_argument("--no-explore", action="store_true", help="skip the mitigation search")
    q.add_argument("--interpret-only", action="store_true",
                   help="print how the question is read (the scenario) and simulate nothing; "
                   'with --json: {"scenario": {...}, "readings": {"rules": ..., "model": ...}, '
                   '"differences": {...}}')  # fmt: skip
    _common(q, _cmd_ask)

    s = modes.add_parser("schema", help="print the JSON schema of a what-if scenario")
    s.set_defaults(run=_cmd_schema)


def _common(p: argparse.ArgumentParser, run: Callable[[argparse.Namespace], int]) -> None:
    p.add_argument("--no-llm", action="store_true", help="the guarded heuristics alone")
    p.add_argument("--no-store", action="store_true", help="do not store the decisions")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    p.set_defaults(run=lambda args: _guarded(run, args))


def _guarded(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    from agent.errors import AgentError

    try:
        return run(args)
    except (AgentError, ValueError) as exc:
        print(f"schedsight: error: {exc}", file=sys.stderr)
        return 2


@contextmanager
def _llm(
    args: argparse.Namespace,
    wiring: Wiring,
    *,
    needed: bool = True,
    speculate: bool = True,
    abandon: threading.Event | None = None,
) -> Iterator[LLMClient | None]:
    """A client of the configured (or local) server; None with --no-llm or when not `needed`.
    `speculate`, `abandon`: see `agent.llm.local_server.llm_endpoint`."""
    if args.no_llm or not needed:
        yield None
        return
    from agent.llm.local_server import llm_endpoint

    config = wiring.llm_config()
    if not config.base_url:
        print("schedsight: starting the local LLM server ...", file=sys.stderr)
    with llm_endpoint(config, speculate=speculate, abandon=abandon) as endpoint:
        # Imported once the server is up: it starts before openai (~1 s) is loaded.
        from agent.llm.client import LLMClient

        client = LLMClient(endpoint)
        try:
            yield client
        finally:
            client.close()


def _store(args: argparse.Namespace, wiring: Wiring, records: list[DecisionRecord]) -> None:
    if args.no_store or not records:
        return
    from agent.records import save_records

    store = wiring.open_store()
    ids = save_records(store.sessions, records)
    print(f"schedsight: stored {len(ids)} decisions ({ids[0]}..{ids[-1]})", file=sys.stderr)


def _cmd_dispatch(args: argparse.Namespace) -> int:
    from agent.batch.scenarios import make_scenario
    from agent.batch.schedule import Objective
    from agent.guard import Guard, user_remit
    from agent.modes.dispatch import DispatchConfig, dispatch, result_json

    wiring = wiring_of(args)
    if not args.no_store:
        wiring.open_store()  # fail early on a stale schema
    scenario = make_scenario(args.family, args.jobs, args.seed)
    accounts = frozenset(int(a) for a in args.accounts.split(",")) if args.accounts else None
    config = DispatchConfig(
        objective=Objective(args.objective), llm_picks=args.llm_picks, targets=_goal(args)
    )
    with _llm(args, wiring) as llm:
        result = dispatch(scenario, llm, config=config, guard=Guard(user_remit(accounts)))
        llm_used = llm is not None
    _store(args, wiring, result.decisions)
    out = result_json(result)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    what = "the goal below" if config.targets else f"objective {out['objective']}"
    print(f"{result.scenario} on {scenario.machine.describe()}, {what}")
    print(f"  agent          {result.value:12.1f}")
    print(f"  best heuristic {result.best_heuristic_value:12.1f}  ({result.best_heuristic})")
    print(
        f"  decisions {out['decisions']}, LLM calls {out['llm_calls']}, tokens "
        f"{out['prompt_tokens']}+{out['completion_tokens']}, guard rejections "
        f"{out['guard_rejections']}, wall {out['wall_s']:.1f} s"
    )
    if result.goal_report is not None:
        _print_goal(result.goal_report)
    r = result.rationale
    if llm_used:
        templates = len(result.decisions) - r.by_model
        print(
            f"  rationales by the model {r.by_model}, replaced for a wrong number "
            f"{r.replaced}, templates {templates}; model time {r.wall_s:.1f} s"
        )
    return 0


def _print_goal(report: dict[str, Any]) -> None:
    print(f"  goal: {report['goal']}")
    print("  " + ", ".join(f"{k} {_figure(v)}" for k, v in report["values"].items()))
    for c, b in zip(report["constraints"], report["best_heuristic"]["constraints"], strict=True):
        met = "met" if c["met"] else "NOT met"
        print(
            f"  {c['constraint']}: {_figure(c['measured'])}, {met} "
            f"(best heuristic: {_figure(b['measured'])})"
        )
    if not report["feasible"]:
        print("  infeasible: no plan found meets every constraint; this one comes closest")


def _figure(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _goal(args: argparse.Namespace) -> Goal | None:
    """--weight/--order/--constraint as a goal (constraints alone: mean wait first); None:
    --objective alone. Parsed as `agent advise` parses its corrections."""
    from agent.modes.goals import corrected
    from hpc.objectives import Goal
    from hpc.objectives import Objective as GoalObjective

    if not (args.weight or args.order or args.constraint):
        return None
    base = Goal(order=(GoalObjective.MEAN_WAIT,))
    return corrected(base, weights=args.weight, order=args.order, constraints=args.constraint)


def _workload(args: argparse.Namespace, machine: Machine) -> tuple[Any, Machine]:
    from hpc.workload.cleaning import clean
    from hpc.workload.loading import load_workload
    from hpc.workload.lublin import generate

    if args.trace:
        loaded = load_workload(args.trace)
        return loaded.jobs, loaded.machine
    trace = generate(args.jobs, seed=args.seed, procs=machine.total_procs)
    jobs, _ = clean(trace, machine=machine)
    return jobs, machine


def _cmd_advise(args: argparse.Namespace) -> int:
    wiring = wiring_of(args)
    return advising.run_advise(args, wiring, llm=lambda: _llm(args, wiring), store=_store,
                               workload=_workload, site_workload=_site_workload)  # fmt: skip


def _cmd_ask(args: argparse.Namespace) -> int:
    if args.interpret_only:
        return _cmd_interpret(args)
    wiring = wiring_of(args)
    if args.site:
        return _cmd_ask_site(args, wiring)
    # The rules and the model read the question (the model also looks for a mitigation after
    # a loss); --no-llm: the rules alone, and no model is started. The server starts first,
    # on another thread (its process takes ~6 s to load), while this one opens the store
    # (~1 s), makes the workload, imports the agent's code and replays; the stack stops it
    # after the starter is done. A stale store or a bad trace abandons the start at once.
    import agent.llm.local_server  # noqa: F401  (here: the two threads import nothing alike)
    from hpc.model import Machine

    abandon = threading.Event()
    with ExitStack() as stack, ThreadPoolExecutor(1, thread_name_prefix="llm-start") as starter:
        # Its replies are a few tokens of constrained JSON: no speculation (see llm_endpoint).
        starting = _llm(args, wiring, speculate=False, abandon=abandon)
        llm = starter.submit(stack.enter_context, starting)
        try:
            if not args.no_store:
                wiring.open_store()
            jobs, machine = _workload(args, Machine.cluster(args.nodes, args.cores_per_node))
        except BaseException:
            abandon.set()
            raise
        from agent.modes.ask import ask
        from agent.tools.workspace import Workspace

        result = ask(args.question, Workspace(jobs, machine), llm, explore=not args.no_explore)
    if result.record is not None:
        _store(args, wiring, [result.record])
    if args.json:
        out = {"reading": result.whatif.as_dict(), "read_by": result.interpreted_by,
               "readings": result.extra["reading"]["readings"],
               "differences": result.extra["reading"]["differences"], "notes": result.notes,
               "baseline": result.baseline, "scenario": result.scenario,
               "mitigation": result.mitigation, "answer": result.answer}  # fmt: skip
        print(json.dumps(out, indent=2))
        return 0
    print(f"read ({result.interpreted_by}) as: {result.whatif.describe()}")
    for note in result.notes:
        print(f"  note: {note}")
    print(result.answer)
    return 0


def _cmd_interpret(args: argparse.Namespace) -> int:
    """`agent ask --interpret-only`: the question as a scenario (or refused), nothing simulated.

    The rules read it, and the model too unless --no-llm (`agent.modes.model_reading`). A
    refused question exits with 1 and, with --json, prints `{"scenario": null, "refused": why,
    ...}` with the model's proposal where it has one.
    """
    from agent.modes.model_reading import read_question
    from hpc.sim import Policy

    with _llm(args, wiring_of(args), speculate=False) as llm:
        reading = read_question(args.question, llm, Policy().name)
    if args.json:
        print(json.dumps(reading.as_dict(), indent=2))
    elif reading.scenario is not None:
        print(f"read ({reading.read_by}) as: {reading.scenario.describe()}")
    else:
        print(f"schedsight: {reading.refused}", file=sys.stderr)
    if not args.json:
        for line in reading.explain():
            print(f"  note: {line}")
    return 0 if reading.scenario is not None else 1


def _cmd_schema(args: argparse.Namespace) -> int:
    """`agent schema`: the scenario's JSON schema (agent/modes/scenario.py documents it)."""
    from agent.modes.scenario import SCHEMA

    print(json.dumps(SCHEMA, indent=2))
    return 0


def _site_workload(args: argparse.Namespace, wiring: Wiring, site: Any) -> SiteWorkload:
    """--trace (a file or workload:ID) or a generated workload, cleaned for `site`."""
    from db.session import transaction
    from db.sites import stored_site_workload
    from hpc.site.whatif import generated_site_workload, site_workload
    from hpc.workload.swf import read_swf

    if args.trace is None:
        return generated_site_workload(args.jobs, args.seed, site)
    if args.trace.startswith("workload:"):
        number = args.trace.removeprefix("workload:")
        if not number.isdigit():
            raise ValueError(f"{args.trace!r}: a stored workload is workload:ID (a number)")
        with transaction(wiring.open_store().sessions) as session:
            return stored_site_workload(session, int(number), site)
    return site_workload(read_swf(args.trace), site, args.trace)


def _cmd_ask_site(args: argparse.Namespace, wiring: Wiring) -> int:
    """`agent ask --site`: the question read into change lines by rules, no model needed."""
    from agent.modes.site_ask import ask_site
    from agent.tools.workspace import Workspace
    from db.session import transaction
    from db.sites import load_site_version

    name, version = args.site
    store = wiring.open_store()
    with transaction(store.sessions) as session:
        version, site = load_site_version(session, name, version)
    workspace = Workspace.for_site(site, f"{name}@{version}", _site_workload(args, wiring, site))
    result = ask_site(args.question, workspace)
    _store(args, wiring, [result.record])
    if args.json:
        out = {"changes": result.changes, "read_by": "rules", "policy": result.policy,
               **result.figures, "answer": result.answer}  # fmt: skip
        print(json.dumps(out, indent=2))
        return 0
    print("changes read from the question (rules):")
    for line in result.changes:
        print(f"  {line}")
    print(result.answer)
    return 0

"""`schedsight agent advise`: read the goal, show it, have it confirmed, advise, print the
Pareto set with its trade-offs, and store the recommendation and its Slurm actions as
proposed decisions. Wiring and printing only; the work is in `agent.modes`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from schedsight.wiring import Wiring

if TYPE_CHECKING:
    from agent.llm.client import LLMClient
    from agent.modes.advise import AdviseResult
    from agent.modes.site_actions import SiteAction
    from agent.records import DecisionRecord
    from hpc.model import Machine
    from hpc.objectives import Goal
    from hpc.site.model import Site
    from hpc.slurm.state import LiveJob

Llm = Callable[[], AbstractContextManager["LLMClient | None"]]
Store = Callable[[argparse.Namespace, Wiring, "list[DecisionRecord]"], None]


def add_options(a: argparse.ArgumentParser) -> None:
    """advise's options for the goal's correction and confirmation, and for a site."""
    a.add_argument(
        "--site",
        metavar="NAME[@VERSION]",
        help="advise a stored site (`schedsight "
        "site import`): Slurm-runnable candidates, and Slurm actions to approve",
    )
    a.add_argument(
        "--weight",
        action="append",
        default=[],
        metavar="OBJECTIVE=W",
        help="correct the reading: weighted objectives (mean_wait, mean_bsld, "
        "utilization, fairness, makespan); repeatable",
    )
    a.add_argument(
        "--order",
        metavar="OBJ,OBJ,...",
        help="correct the reading: objectives in lexicographic order",
    )
    a.add_argument(
        "--constraint",
        action="append",
        default=None,
        metavar="TEXT",
        help="correct the reading: the hard constraints, e.g. 'p95_wait cores<16 <= "
        "1h', 'utilization >= 80%%', 'fairness_accounts >= 0.9'; repeatable",
    )
    a.add_argument("--no-constraints", action="store_true", help="drop the read constraints")
    a.add_argument(
        "--yes", action="store_true", help="accept the goal as read (and corrected) without asking"
    )
    a.add_argument(
        "--no-queue",
        action="store_true",
        help="with --site: propose no job actions (do not read the live queue)",
    )


def run_advise(
    args: argparse.Namespace,
    wiring: Wiring,
    *,
    llm: Llm,
    store: Store,
    workload: Callable[[argparse.Namespace, Machine], tuple[Any, Machine]],
    site_workload: Callable[[argparse.Namespace, Wiring, Any], Any],
) -> int:
    from agent.modes.advise import advise, advise_site
    from agent.modes.goals import as_flags, corrected, read_goal
    from hpc.errors import HpcError
    from hpc.model import Machine

    if not args.no_store:
        wiring.open_store()
    site, label = _site(args, wiring) if args.site else (None, "")
    partitions = [p.name for p in site.partitions] if site else []
    with llm() as client:
        reading = read_goal(args.goals, client, partitions)
    print(f"goal read ({reading.read_by}): {reading.goal.describe()}")
    for note in reading.notes:
        print(f"  note: {note}")
    edits = args.weight or args.order or args.constraint is not None or args.no_constraints
    cons = [] if args.no_constraints else args.constraint
    goal = corrected(reading.goal, weights=args.weight, order=args.order, constraints=cons)
    if edits:
        print(f"goal as corrected: {goal.describe()}")
    print(f"  as flags: {as_flags(goal)}")
    if not _confirmed(args):
        return 1
    try:
        if site is not None:
            on_site = site_workload(args, wiring, site)
            result = advise_site(on_site, site, goal, goal_text=args.goals)
        else:
            jobs, machine = workload(args, Machine.procs_only(args.procs))
            result = advise(jobs, machine, goal, goal_text=args.goals)
    except HpcError as exc:
        raise ValueError(str(exc)) from None
    actions, notes = _actions(args, wiring, result, site, label) if site else ([], [])
    records = [result.record, *_action_records(actions, result, args.goals)]
    store(args, wiring, records)
    if args.json:
        out = {
            "goal": goal.describe(),
            "record": result.record.as_dict(),
            "actions": [a.action for a in actions],
            "notes": notes,
        }
        print(json.dumps(out, indent=2, default=str))
        return 0
    _print(result, actions, notes)
    return 0


def _confirmed(args: argparse.Namespace) -> bool:
    if args.yes:
        return True
    if sys.stdin.isatty():
        answer = input("use this goal? [y/N] ").strip().lower()
        if answer in ("y", "yes"):
            return True
    print(
        "schedsight: the goal is not confirmed: run again with --yes to accept it, or correct "
        "it with --weight/--order/--constraint (the flags above state it)",
        file=sys.stderr,
    )
    return False


def _site(args: argparse.Namespace, wiring: Wiring) -> tuple[Site, str]:
    from db.session import transaction
    from db.sites import load_site_version
    from schedsight.arguments import site_ref

    name, version = site_ref(args.site)
    with transaction(wiring.open_store().sessions) as session:
        number, site = load_site_version(session, name, version)
    return site, f"site {name}@{number}"


def _actions(
    args: argparse.Namespace, wiring: Wiring, result: AdviseResult, site: Site, label: str
) -> tuple[list[SiteAction], list[str]]:
    from agent.modes.site_actions import site_actions
    from hpc.slurm.errors import SlurmError

    pending: list[LiveJob] = []
    notes: list[str] = []
    if not args.no_queue:
        try:
            pending = [j for j in wiring.slurm_backend().jobs() if j.pending]
        except SlurmError as exc:
            notes.append(f"no job actions: the live queue could not be read ({exc})")
    actions, more = site_actions(
        result, site, label, pending, remit=wiring.remit(), now_s=int(time.time())
    )
    return actions, notes + more


def _action_records(
    actions: list[SiteAction], result: AdviseResult, text: str
) -> list[DecisionRecord]:
    from agent.modes.site_actions import action_records

    return action_records(actions, result, text)


def _print(result: AdviseResult, actions: list[SiteAction], notes: list[str]) -> None:
    from hpc.objectives import Objective

    goal: Goal = result.goal
    head = ["mean wait", "bsld", "util", "fairness", "makespan"]
    print(
        f"Pareto set on the first 70% over five objectives ({len(result.pareto)} of "
        f"{len(result.searched)} searched; constraints met / all):"
    )
    print(f"  {'candidate':58s} " + " ".join(f"{h:>11s}" for h in head) + "  met")
    shown = (
        result.pareto
        if result.recommended in result.pareto
        else [*result.pareto, result.recommended]
    )
    for c in shown:
        cells = " ".join(f"{o.format(c.values[o]):>11s}" for o in Objective)
        met = f"{sum(k.met for k in c.checks)}/{len(c.checks)}" if c.checks else "-"
        mark = "*" if c is result.recommended else " "
        print(f"{mark} {c.name[:58]:58s} {cells}  {met}")
    print("trade-offs:")
    for text in result.trade_offs.values():
        print(f"  - {text}")
    if goal.constraints:
        feasible = [c.name for c in result.searched if c.feasible]
        if feasible:
            print(f"{len(feasible)} of {len(result.searched)} candidates meet every constraint")
        else:
            print(
                "infeasible: no candidate meets every constraint; the closest is "
                f"{result.recommended.name}"
            )
    for reason in result.refused:
        print(f"  guard: {reason}")
    print(f"recommendation ({result.chosen_by}): {result.record.rationale}")
    if actions:
        print(
            "recommended actions (each stored as a proposed decision; nothing is applied "
            "until an admin approves it):"
        )
        for k, a in enumerate(actions, start=1):
            print(f"  {k}. {a.what}")
            print(f"     why: {a.why}")
            diff = a.action.get("diff")
            if diff:
                print("     " + diff.rstrip("\n").replace("\n", "\n     "))
    for note in notes:
        print(f"  note: {note}")

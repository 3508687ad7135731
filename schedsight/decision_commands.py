"""`schedsight agent decisions|decision|approve|reject`: the Decisions page on the command
line. Approving takes the same admin token as the dashboard (SCHEDSIGHT_ADMIN_TOKEN where
this runs; the token given on stdin or at a prompt), and goes through the same code
(`dashboard.approvals`): a job action or QOS change is sent within the remit and audited; a
slurm.conf change is recorded and its diff printed, never applied.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any

from schedsight.arguments import MAX_ID, int_in
from schedsight.wiring import wiring_of

STATUSES = ("proposed", "approved", "applied", "rejected", "failed")


def add_parsers(modes: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ls = modes.add_parser("decisions", help="stored decisions, newest first (to review, approve)")
    ls.add_argument("--status", choices=STATUSES)
    ls.add_argument("--limit", type=int_in(1, 1000), default=20)
    ls.add_argument("--json", action="store_true", help="print JSON on stdout")
    ls.set_defaults(run=_guard(_cmd_list))
    show = modes.add_parser("decision", help="one stored decision in full")
    show.add_argument("id", type=int_in(1, MAX_ID))
    show.add_argument(
        "--diff", action="store_true", help="a slurm.conf change: print only its diff (for `patch`)"
    )
    show.set_defaults(run=_guard(_cmd_show))
    verbs = (
        (
            "approve",
            "approve a proposed decision (admin token on stdin or at a prompt): a job "
            "action or QOS change is sent to Slurm, a slurm.conf change prints its diff to apply",
        ),
        ("reject", "reject a proposed decision (admin token as for approve)"),
    )
    for verb, text in verbs:
        p = modes.add_parser(verb, help=text)
        p.add_argument("id", type=int_in(1, MAX_ID))
        p.add_argument("--actor", default=getpass.getuser(), help="who decides (default: you)")
        p.set_defaults(run=_guard(_cmd_decide), approve=verb == "approve")


def _guard(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def guarded(args: argparse.Namespace) -> int:
        from dashboard.approvals import NotAdminError
        from db.errors import DbError

        try:
            return run(args)
        except (NotAdminError, DbError, ValueError) as exc:
            print(f"schedsight: error: {exc}", file=sys.stderr)
            return 2

    return guarded


def _rows(args: argparse.Namespace, limit: int) -> list[dict[str, Any]]:
    from dashboard.approvals import decision_rows

    return decision_rows(wiring_of(args).open_store(), limit=limit)


def _cmd_list(args: argparse.Namespace) -> int:
    rows = [r for r in _rows(args, 1000) if args.status in (None, r["status"])][: args.limit]
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    if not rows:
        print("no decisions" + (f" {args.status}" if args.status else ""))
        return 0
    print(f"{'id':>5s}  {'status':9s} {'created':19s}  action")
    for r in rows:
        print(f"{r['id']:>5d}  {r['status']:9s} {r['created_at']:19s}  {_summary(r['action'])}")
        print(f"{'':36s} {r['question'][:100]}")
    return 0


def _summary(action: dict[str, Any] | None) -> str:
    action = action or {}
    if action.get("summary"):
        return str(action["summary"])[:100]
    if action.get("policy"):
        return f"{action.get('kind')} {action['policy']}"[:100]
    if action.get("job_id") is not None:
        value = f" {action['value']}" if action.get("value") is not None else ""
        return f"{action.get('kind')}{value} job {action['job_id']}"
    return str(action.get("kind", "-"))


def _cmd_show(args: argparse.Namespace) -> int:
    from db.decisions import get_decision
    from db.session import transaction

    with transaction(wiring_of(args).open_store().sessions) as session:
        d = get_decision(session, decision_id=args.id)
        action: dict[str, Any] = d.proposal.get("action") or {}
        out = {
            "id": d.id,
            "status": d.status.value,
            "question": d.question,
            "action": action,
            "rationale": d.rationale,
            "objectives": d.objectives,
            "guard": d.guard_verdict,
            "approved_by": d.approved_by,
            "outcome": d.outcome,
        }
    diff = action.get("diff")
    if args.diff:
        if not diff:
            raise ValueError(f"decision {args.id} is not a slurm.conf change: it has no diff")
        sys.stdout.write(diff)
        return 0
    print(json.dumps(out, indent=2, default=str))
    return 0


def _cmd_decide(args: argparse.Namespace) -> int:
    from dashboard.approvals import SlurmSide, approve, reject

    wiring = wiring_of(args)
    token = _token()
    store = wiring.open_store()
    if args.approve:
        slurm = SlurmSide(wiring.slurm_backend, wiring.remit(), wiring.backoff())
        message = approve(
            store,
            args.id,
            token=token,
            admin_token=wiring.admin_token,
            slurm=slurm,
            actor=args.actor,
        )
    else:
        message = reject(
            store, args.id, token=token, admin_token=wiring.admin_token, actor=args.actor
        )
    print(message)
    return 1 if "refused" in message else 0


def _token() -> str:
    """The admin token: at a prompt on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        return getpass.getpass("admin token: ")
    return sys.stdin.readline().strip()

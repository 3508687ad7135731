"""`schedsight db ...` and `schedsight runs ...`: the schema and the stored runs."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from schedsight.tables import format_duration, format_table
from schedsight.wiring import wiring_of

if TYPE_CHECKING:
    from db.models import SimulationRun

MAX_LIST_LIMIT = 10_000  # db.runs.MAX_LIST_LIMIT, without loading the database to parse


def _where(url: str) -> str:
    from db.session import redacted

    return redacted(url)


def run_limit(text: str) -> int:
    """argparse type of `runs list --limit`: a whole number from 1 to MAX_LIST_LIMIT."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= MAX_LIST_LIMIT:
        raise argparse.ArgumentTypeError(f"{text} is not between 1 and {MAX_LIST_LIMIT}")
    return value


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from db.migrate import upgrade
    from db.session import make_engine

    url = wiring_of(args).database_url
    before, after = upgrade(make_engine(url))
    if before == after:
        print(f"{_where(url)}: schema already at {after}")
    else:
        print(f"{_where(url)}: schema upgraded from {before or 'empty'} to {after}")
    return 0


def cmd_db_status(args: argparse.Namespace) -> int:
    from db.migrate import current_revision, head_revision
    from db.session import make_engine

    url = wiring_of(args).database_url
    current, head = current_revision(make_engine(url)), head_revision()
    state = "up to date" if current == head else "run `schedsight db upgrade`"
    print(f"{_where(url)}: revision {current or 'none'} (code needs {head}): {state}")
    return 0


def actor_name(text: str) -> str:
    """argparse type of `--actor`: a name the audit log's actor column can hold."""
    from db.audit import check_length
    from db.errors import InvalidValueError

    try:
        return check_length("actor", text)
    except InvalidValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_db_grant_app_role(args: argparse.Namespace) -> int:
    """Run as the tables' owner: `args.role` gets what the application needs, no more."""
    from db.roles import grant_app_role
    from db.session import make_engine

    url = wiring_of(args).database_url
    statements = grant_app_role(make_engine(url), args.role)
    for statement in statements:
        print(f"{statement};")
    print(
        f"{_where(url)}: {args.role} may now read and write the working tables and only "
        "read and append to audit_log; connect schedsight as it (SCHEDSIGHT_DATABASE_URL), "
        "and rerun this after every `schedsight db upgrade`",
        file=sys.stderr,
    )
    return 0


def _run_row(run: SimulationRun) -> dict[str, Any]:
    metrics = run.metrics or {}
    return {
        "id": run.id,
        "created_at": run.created_at.isoformat(timespec="seconds"),
        "status": run.status.value,
        "workload": run.scenario.workload.name,
        "jobs": metrics.get("jobs", run.scenario.workload.job_count),
        "policy": run.scenario.policy,
        "machine": run.scenario.spec["machine"],
        "mean_wait_s": metrics.get("mean_wait_s"),
        "mean_bsld": metrics.get("mean_bsld"),
        "utilization": metrics.get("utilization"),
        "error": run.error,
    }


def cmd_runs_list(args: argparse.Namespace) -> int:
    from db.runs import list_runs
    from db.session import transaction

    store = wiring_of(args).open_store()
    with transaction(store.sessions) as session:
        rows = [_run_row(r) for r in list_runs(session, limit=args.limit)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no stored runs yet: `schedsight simulate TRACE --save` stores one")
        return 0
    table = [
        [
            str(r["id"]),
            r["created_at"].replace("T", " ")[:19],
            r["status"],
            r["workload"],
            str(r["jobs"]),
            r["policy"],
            "-" if r["mean_wait_s"] is None else format_duration(r["mean_wait_s"]),
            "-" if r["mean_bsld"] is None else f"{r['mean_bsld']:.2f}",
            "-" if r["utilization"] is None else f"{r['utilization']:.3f}",
        ]
        for r in rows
    ]
    headers = ["id", "created (UTC)", "status", "workload", "jobs", "policy", "mean wait"]
    headers += ["mean bsld", "util"]
    if any(r["error"] for r in rows):  # why a run failed belongs next to its status
        headers.append("error")
        for line, r in zip(table, rows, strict=True):
            line.append(_clip(r["error"] or "", 72))
    print(format_table(headers, table))
    return 0


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def cmd_runs_show(args: argparse.Namespace) -> int:
    from db.runs import get_run
    from db.session import transaction

    store = wiring_of(args).open_store()
    with transaction(store.sessions) as session:
        run = get_run(session, run_id=args.run_id)
        out = _run_row(run)
        out.update(
            scenario_id=run.scenario_id,
            workload_id=run.scenario.workload_id,
            workload_source=run.scenario.workload.source,
            spec=run.scenario.spec,
            finished_at=run.finished_at.isoformat(timespec="seconds") if run.finished_at else None,
            metrics=run.metrics,
            per_user=run.per_user,
            cleaning=(run.cleaning_report or {}).get("lines", []),
        )
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"run {out['id']}: {out['status']}, {out['policy']} on {out['workload']}")
    for key in ("created_at", "finished_at", "workload_source", "error"):
        if out[key]:
            print(f"  {key}: {out[key]}")
    print(f"  machine: {out['spec']['machine']}")
    for line in out["cleaning"]:
        print(f"  cleaning: {line}")
    for key, value in (out["metrics"] or {}).items():
        print(f"  {key}: {value}")
    return 0

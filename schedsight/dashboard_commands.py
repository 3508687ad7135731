"""`schedsight dashboard`: serve the Streamlit dashboard with the user's settings (localhost)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

import dashboard
from dashboard.scenario import JOBS_RANGE, PROCS_RANGE, SEED_RANGE
from schedsight.arguments import int_in
from schedsight.binding import is_loopback

APP = Path(dashboard.__file__).resolve().parent / "app.py"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dashboard", help="serve the web dashboard (Streamlit)")
    p.add_argument("--host", help="address to bind (default: SCHEDSIGHT_BIND_HOST, 127.0.0.1)")
    p.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="allow a non-loopback --host: the dashboard has no login, so anyone who can reach "
        "the port sees the queue and can file proposals (only approvals need the admin token)",
    )
    p.add_argument("--port", type=int_in(0, 65535), default=8501)
    p.add_argument(
        "--source",
        choices=["simulated", "slurm"],
        default="simulated",
        help="what the Overview shows first: a simulated replay or the live Slurm cluster",
    )
    # The pages' own input ranges: a value outside them would fail inside every page.
    p.add_argument("--jobs", type=int_in(*JOBS_RANGE), default=2000,
                   help="jobs in the generated workload")  # fmt: skip
    p.add_argument("--seed", type=int_in(*SEED_RANGE), default=7,
                   help="seed of the generated workload")  # fmt: skip
    p.add_argument("--procs", type=int_in(*PROCS_RANGE), default=256,
                   help="processors of the simulated machine")  # fmt: skip
    p.set_defaults(run=cmd_dashboard)


# Imported before the server starts, so that the first page a user opens does not pay for them
# (not the modules that declare Streamlit caches: those want a running server).
WARM_MODULES = ("altair", "pandas", "matplotlib.pyplot", "agent.ask", "agent.llm",
                "agent.local_server", "agent.records", "db.migrate", "db.audit",
                "schedsight.storage", "dashboard.replay", "dashboard.scenario", "dashboard.saved",
                "dashboard.approvals", "dashboard.charts")  # fmt: skip


def streamlit_flags(host: str, port: int) -> dict[str, object]:
    return {
        "server_address": host, "server_port": port, "server_headless": True,
        "server_fileWatcherType": "none", "browser_gatherUsageStats": False,
        "global_developmentMode": False, "client_toolbarMode": "viewer",
    }  # fmt: skip


def cmd_dashboard(args: argparse.Namespace) -> int:
    from streamlit.web import bootstrap

    from schedsight.settings import Settings

    host = args.host or Settings().bind_host
    if not is_loopback(host):
        if not args.insecure_no_auth:
            print(
                f"schedsight: error: the dashboard has no login: on {host} anyone who can reach "
                "it could read the queue and file proposals; bind 127.0.0.1 (share it through an "
                "authenticating proxy) or pass --insecure-no-auth",
                file=sys.stderr,
            )
            return 2
        print(
            f"schedsight: warning: serving the dashboard on {host}:{args.port} without a login "
            "(--insecure-no-auth)",
            file=sys.stderr,
        )
    os.environ.update(
        SCHEDSIGHT_DASHBOARD_SOURCE=args.source,
        SCHEDSIGHT_DASHBOARD_JOBS=str(args.jobs),
        SCHEDSIGHT_DASHBOARD_SEED=str(args.seed),
        SCHEDSIGHT_DASHBOARD_PROCS=str(args.procs),
    )
    for name in WARM_MODULES:
        importlib.import_module(name)
    flags = streamlit_flags(host, args.port)
    bootstrap.load_config_options(flags)
    print(f"schedsight dashboard: http://{host}:{args.port}", flush=True)
    bootstrap.run(str(APP), False, [], flags)  # blocks; Ctrl-C or SIGTERM stops the server
    return 0

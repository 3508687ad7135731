"""`schedsight dashboard`: serve the Streamlit dashboard with the user's settings (localhost)."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dashboard.config import JOBS_RANGE, PROCS_RANGE, SEED_RANGE
from schedsight.arguments import int_in
from schedsight.binding import is_loopback
from schedsight.wiring import wiring_of

if TYPE_CHECKING:
    from dashboard.config import DashboardConfig

APP = Path(__file__).resolve().parent / "dashboard_app.py"  # the entry script
_launched: list[DashboardConfig] = []  # what `schedsight dashboard` hands its entry script


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
        help="what the Overview shows first: a simulated replay (default) or the live cluster",
    )
    # The pages' own input ranges: a value outside them would fail inside every page.
    p.add_argument("--jobs", type=int_in(*JOBS_RANGE),
                   help="jobs in the generated workload (default 2000)")  # fmt: skip
    p.add_argument("--seed", type=int_in(*SEED_RANGE),
                   help="seed of the generated workload (default 7)")  # fmt: skip
    p.add_argument("--procs", type=int_in(*PROCS_RANGE),
                   help="processors of the simulated machine (default 256)")  # fmt: skip
    p.set_defaults(run=cmd_dashboard)


# Imported before the server starts, so that the first page a user opens does not pay for them
# (not the modules that declare Streamlit caches: those want a running server).
WARM_MODULES = ("altair", "pandas", "matplotlib.pyplot", "agent.modes.ask", "agent.llm.client",
                "agent.llm.local_server", "agent.records", "db.migrate", "db.audit",
                "db.store", "dashboard.replay", "dashboard.scenario", "dashboard.saved",
                "dashboard.approvals", "dashboard.charts")  # fmt: skip


def streamlit_flags(host: str, port: int) -> dict[str, object]:
    return {
        "server_address": host, "server_port": port, "server_headless": True,
        "server_fileWatcherType": "none", "browser_gatherUsageStats": False,
        "global_developmentMode": False, "client_toolbarMode": "viewer",
    }  # fmt: skip


def launched() -> DashboardConfig | None:
    """The configuration `schedsight dashboard` built in this process; None under a plain
    `streamlit run` (the entry script then reads the settings itself)."""
    return _launched[-1] if _launched else None


def cmd_dashboard(args: argparse.Namespace) -> int:
    from streamlit.web import bootstrap

    wiring = wiring_of(args)
    host = args.host or wiring.settings.bind_host
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
    # Flags on top of the settings (SCHEDSIGHT_DASHBOARD_*).
    given = {
        k: v for k in ("source", "jobs", "seed", "procs") if (v := getattr(args, k)) is not None
    }
    _launched.append(dataclasses.replace(wiring.dashboard_config(), **given))
    for name in WARM_MODULES:
        importlib.import_module(name)
    server = streamlit_flags(host, args.port)
    bootstrap.load_config_options(server)
    print(f"schedsight dashboard: http://{host}:{args.port}", flush=True)
    bootstrap.run(str(APP), False, [], server)  # blocks; Ctrl-C or SIGTERM stops the server
    return 0

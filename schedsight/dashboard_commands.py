"""`schedsight dashboard`: serve the Streamlit dashboard with the user's settings (localhost)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import dashboard

APP = Path(dashboard.__file__).resolve().parent / "app.py"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dashboard", help="serve the web dashboard (Streamlit)")
    p.add_argument("--host", help="address to bind (default: SCHEDSIGHT_BIND_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument(
        "--source",
        choices=["simulated", "slurm"],
        default="simulated",
        help="what the Overview shows first: a simulated replay or the live Slurm cluster",
    )
    p.add_argument("--jobs", type=int, default=2000, help="jobs in the generated workload")
    p.add_argument("--seed", type=int, default=7, help="seed of the generated workload")
    p.add_argument("--procs", type=int, default=256, help="processors of the simulated machine")
    p.set_defaults(run=cmd_dashboard)


def streamlit_command(host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", host, "--server.port", str(port), "--server.headless", "true",
        "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false",
    ]  # fmt: skip


def cmd_dashboard(args: argparse.Namespace) -> int:
    from schedsight.settings import Settings

    host = args.host or Settings().bind_host
    env = dict(os.environ)
    env.update(
        SCHEDSIGHT_DASHBOARD_SOURCE=args.source,
        SCHEDSIGHT_DASHBOARD_JOBS=str(args.jobs),
        SCHEDSIGHT_DASHBOARD_SEED=str(args.seed),
        SCHEDSIGHT_DASHBOARD_PROCS=str(args.procs),
    )
    print(f"schedsight dashboard: http://{host}:{args.port}", flush=True)
    command = streamlit_command(host, args.port)
    os.execve(command[0], command, env)  # the server replaces this process (signals reach it)

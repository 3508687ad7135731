#!/usr/bin/env python3
"""Record a real Slurm cluster's JSON, in every data version it speaks, as test fixtures.

The adapters in `hpc/slurm/json_*.py` are tested on these recordings (tests/hpc/slurm/
test_dialects.py), one folder per release and data version:

    tests/hpc/slurm/data/releases/<release>/<version>/{cli,rest}-<document>.json.gz

It submits a small, known workload first (a completed job, a job that exits 3, a held job, a
pending array, a GPU job, a dependent job and a running job), waits for the short ones to
end, records, then cancels what it submitted. Refresh the recordings after a Slurm upgrade:

    python scripts/record-slurm-fixtures.py                               # the host's Slurm
    python scripts/record-slurm-fixtures.py --prefix "chroot /var/lib/slurm-trixie" \\
        --rest unix:/var/lib/slurm-trixie/run/slurmrestd/slurmrestd.sock

The CLI is asked for each data parser it lists (`squeue --json=list`, 23.02 and newer; the
default one before); slurmrestd for each API version in its OpenAPI document. Only the
standard library and httpx (for the unix socket) are used. Files are gzip-compressed with a
zero mtime and sorted keys, so that recording twice the same state gives the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "hpc" / "slurm" / "data" / "releases"
VERSION = re.compile(r"v0\.0\.(\d+)")
OLDEST = "v0.0.38"  # the oldest data version schedsight reads (Slurm 22.05)
WORKLOAD = [  # (sbatch options, script body); all in account physics except the GPU job
    (["-J", "fx-ok", "-t", "5"], "true"),
    (["-J", "fx-fail", "-t", "5"], "exit 3"),
    (["-J", "fx-held", "-H", "-t", "30"], "true"),
    (["-J", "fx-array", "-a", "1-3", "-n", "8", "-t", "30"], "sleep 600"),
    (["-J", "fx-gpu", "-p", "gpu", "--gres=gpu:1", "-t", "20"], "sleep 600"),
    (["-J", "fx-run", "-t", "10"], "sleep 600"),
]


def run(
    prefix: list[str], argv: list[str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, *argv], input=stdin, capture_output=True, text=True, timeout=60)


def submit_workload(prefix: list[str]) -> list[int]:
    ids: list[int] = []
    for options, body in WORKLOAD:
        done = run(prefix, ["sbatch", "--parsable", "-A", "physics", "-o", "/dev/null",
                            "--chdir=/tmp", *options], f"#!/bin/sh\n{body}\n")  # fmt: skip
        if done.returncode != 0:
            sys.exit(f"sbatch {' '.join(options)} failed: {done.stderr.strip()}")
        ids.append(int(done.stdout.strip().split(";")[0]))
    dependent = run(prefix, ["sbatch", "--parsable", "-A", "physics", "-J", "fx-after", "-o",
                             "/dev/null", "--chdir=/tmp", f"--dependency=afterok:{ids[-1]}",
                             "--wrap", "true"])  # fmt: skip
    ids.append(int(dependent.stdout.strip().split(";")[0]))
    for _ in range(120):  # the first two end in a few seconds once they start
        states = run(prefix, ["sacct", "-n", "-X", "-P", "-o", "State", "-j", f"{ids[0]},{ids[1]}"])
        if sorted(states.stdout.split()) == ["COMPLETED", "FAILED"]:
            break
        time.sleep(1)
    else:
        print("warning: fx-ok/fx-fail did not finish within 120 s", file=sys.stderr)
    time.sleep(2)  # slurmdbd records the end a moment after the controller
    return ids


def cli_versions(prefix: list[str]) -> list[str]:
    """The data parsers the CLI offers, newest last; [''] (the default) where it has no list."""
    done = run(prefix, ["squeue", "--json=list"])
    found = sorted({m.group(0) for m in VERSION.finditer(done.stdout)}, key=_order)
    return found or [""]


def _order(version: str) -> int:
    match = VERSION.search(version)
    return int(match.group(1)) if match else 0


def cli_documents(prefix: list[str], version: str, since: str) -> dict[str, Any]:
    flag = f"--json={version}" if version else "--json"
    commands = {
        "squeue": ["squeue", flag, "--states=all"],  # 23.02+ hide finished jobs otherwise
        "sinfo": ["sinfo", flag],
        "nodes": ["scontrol", flag, "show", "nodes"],
        "sacct": ["sacct", flag, "--allusers", f"--starttime={since}"],
        "partitions": ["scontrol", flag, "show", "partition"],
        "ping": ["scontrol", flag, "ping"],
    }
    docs = {}
    for name, argv in commands.items():
        done = run(prefix, argv)
        try:
            docs[name] = json.loads(done.stdout)
        except json.JSONDecodeError:
            print(f"  {' '.join(argv)}: no JSON ({done.stderr.strip()[:80]})", file=sys.stderr)
    return docs


def rest_documents(url: str, since: str) -> tuple[list[str], dict[str, dict[str, Any]]]:
    import httpx

    transport = httpx.HTTPTransport(uds=url.removeprefix("unix:"))
    with httpx.Client(base_url="http://slurmrestd", transport=transport, timeout=60) as http:
        paths = sorted(http.get("/openapi/v3").json()["paths"])
        versions = sorted({m.group(0) for p in paths if (m := VERSION.search(p))}, key=_order)
        out: dict[str, dict[str, Any]] = {}
        for v in versions:
            if _order(v) < _order(OLDEST):
                continue
            wanted = {
                "ping": f"/slurm/{v}/ping",
                "jobs": f"/slurm/{v}/jobs",
                "nodes": f"/slurm/{v}/nodes",
                "partitions": f"/slurm/{v}/partitions",
                "slurmdb-jobs": f"/slurmdb/{v}/jobs?start_time={since}",
            }
            docs = {}
            for name, path in wanted.items():
                route = path.split("?")[0]
                if route not in paths and route + "/" not in paths:
                    continue
                response = http.get(path)
                if response.headers.get("content-type", "").startswith("application/json"):
                    docs[name] = response.json()
            out[v] = docs
    return paths, out


def release_of(prefix: list[str]) -> str:
    """'24.11' from `scontrol version` ('slurm 24.11.5' or 'slurm-wlm 26.05.5')."""
    text = run(prefix, ["scontrol", "version"]).stdout
    match = re.search(r"(\d+)\.(\d+)\.\d+", text)
    if match is None:
        sys.exit(f"`scontrol version` printed {text!r}")
    return f"{match.group(1)}.{match.group(2)}"


def write(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    path.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--prefix", default="", help='run Slurm commands through it: "chroot /var/lib/slurm-trixie"'
    )
    parser.add_argument(
        "--rest",
        default="unix:/run/slurmrestd/slurmrestd.sock",
        help="slurmrestd's unix socket (unix:PATH); empty: no REST",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--no-workload", action="store_true", help="record the queue as it is")
    args = parser.parse_args()
    prefix = shlex.split(args.prefix)
    release = release_of(prefix)
    since_s = int(time.time()) - 3600
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(since_s))
    # slurmrestd's query parsers differ (22.05: no time of day; 23.11/24.05: no epoch); a
    # date is read by all, as the REST backend asks
    day = time.strftime("%Y-%m-%d", time.localtime(since_s))
    ids = [] if args.no_workload else submit_workload(prefix)
    try:
        for version in cli_versions(prefix):
            docs = cli_documents(prefix, version, since)
            label = version or _label(docs)
            for name, doc in docs.items():
                write(args.out / release / label / f"cli-{name}.json.gz", doc)
            print(f"{release} {label} cli: {', '.join(docs)}")
        if args.rest:
            paths, by_version = rest_documents(args.rest, day)
            write(args.out / release / "rest-openapi-paths.json.gz", paths)
            for version, docs in by_version.items():
                for name, doc in docs.items():
                    write(args.out / release / version / f"rest-{name}.json.gz", doc)
                print(f"{release} {version} rest: {', '.join(docs)}")
    finally:
        if ids:
            run(prefix, ["scancel", *map(str, ids)])


def _label(docs: dict[str, Any]) -> str:
    """The data version a default `--json` printed (22.05: meta.plugin.type openapi/v0.0.38)."""
    for doc in docs.values():
        plugin = (doc.get("meta") or {}).get("plugin") or {}
        match = VERSION.search(str(plugin.get("data_parser") or plugin.get("type") or ""))
        if match:
            return match.group(0)
    return "unknown"


if __name__ == "__main__":
    main()

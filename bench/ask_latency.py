"""`agent ask` latency: the whole command, server start included, cold and warm, with CPU time
and a breakdown of where the time goes. Target (issue 24): under 20 s on this CPU.

    python bench/ask_latency.py                        # this checkout: 1 cold + 2 warm runs, phases
    python bench/ask_latency.py --baseline ../main     # the same for another checkout, interleaved
    python bench/ask_latency.py --runs 3 --no-phases

Each run is `python -m schedsight agent ask QUESTION` as a user runs it (no
SCHEDSIGHT_LLM_BASE_URL: it starts the local server on the embedded model, stores the decision
in a throw-away data directory). Cold is a user's first ask right after `make install`: the
cache directory holds only what the install builds once per machine (the C++ decode step,
`python -m inference.fused`, and the compiled site replay, `python -m hpc.sim.native`; both
linked from this user's cache, not rebuilt), nothing a first ask leaves behind. `agent ask`'s
server runs without speculation, so it has no width probe to run or store
(`inference/engine/probe_cache.py`): a cold run differs from a warm one by creating the
decision store (SQLite, migrated on first use) and by nothing in the cache. The OS's page
cache is not dropped (that needs root): files read from a cold disk add to both. Warm: the
next runs, with the same cache and store. CPU time is the
command's and its server's (user + sys of the finished children). The machine is shared:
compare the checkouts by the ratios of one run of this script, and read the load average
printed with it.

Phases (`--phases`, one process per checkout, the local server's settings): the agent's
imports, the workload and both replays, then the server's parts in order: torch, the HTTP
stack, the GGUF read, the engine build (weights, probe), the app, and the model's first and
second reading call. The CLI overlaps the server start with the replays; here they run one
after the other, to be timed apart.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "what if we added 16 more nodes next week?"


def _env(root: Path, cache: Path, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDSIGHT_LLM_")}
    return env | {"PYTHONPATH": str(root), "XDG_CACHE_HOME": str(cache),
                  "SCHEDSIGHT_DATA_DIR": str(data)}  # fmt: skip


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


INSTALLED = ("fused", "sim-native")  # what `make install` builds into the cache, once


def fresh_cache(where: Path) -> Path:
    """A cache directory as a user's is right after `make install`: empty but for what the
    install builds (the C++ decode step, the compiled site replay), linked from this user's
    cache."""
    cache = where / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    (cache / "schedsight").mkdir(parents=True)
    mine = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "schedsight"
    for name in INSTALLED:
        if (mine / name).is_dir():
            (cache / "schedsight" / name).symlink_to(mine / name)
    return cache


def run_ask(root: Path, cache: Path, data: Path) -> dict[str, Any]:
    """One `agent ask`: wall and CPU seconds, and the first line it printed."""
    cpu0, t0 = _children_cpu_s(), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "schedsight", "agent", "ask", QUESTION],
                          env=_env(root, cache, data), cwd=root, capture_output=True,
                          text=True)  # fmt: skip
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"agent ask failed in {root} ({done.returncode}): {done.stderr[-800:]}")
    lines = done.stdout.splitlines()
    return {"wall_s": wall, "cpu_s": _children_cpu_s() - cpu0, "read": lines[0] if lines else ""}


def phases(root: Path, cache: Path, data: Path) -> dict[str, tuple[float, float]]:
    """The phase breakdown of `root`'s code, from a worker process (wall, CPU seconds); `-P`:
    bench/ is not on its path (bench/inference.py would hide the package)."""
    done = subprocess.run([sys.executable, "-P", __file__, "--phase-worker"],
                          env=_env(root, cache, data), cwd=root, capture_output=True,
                          text=True)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"phase worker failed in {root}: {done.stderr[-1500:]}")
    out: dict[str, tuple[float, float]] = json.loads(done.stdout.splitlines()[-1])
    return out


def phase_worker() -> None:
    """Runs in the checkout being measured (PYTHONPATH); prints {phase: [wall, cpu]} as JSON."""
    marks: dict[str, tuple[float, float]] = {}
    last = [time.perf_counter(), time.process_time()]

    def mark(name: str) -> None:
        now = [time.perf_counter(), time.process_time()]
        marks[name] = (now[0] - last[0], now[1] - last[1])
        last[:] = now

    from agent.modes.ask import _tool_arguments, interpret, settled
    from agent.tools.workspace import Workspace, toolbox
    from hpc.model import Machine
    from schedsight import agent_commands

    mark("agent imports")
    args = argparse.Namespace(trace=None, jobs=5000, seed=0, nodes=64, cores_per_node=8)
    jobs, machine = agent_commands._workload(args, Machine.cluster(64, 8))
    workspace = Workspace(jobs, machine)
    toolbox(workspace).call("simulate_scenario", {"policy": workspace.policy.name})
    scenario = interpret(QUESTION, workspace)[0].scenario
    assert scenario is not None
    toolbox(settled(scenario, workspace)).call(
        "simulate_scenario", _tool_arguments(scenario, workspace.policy.name)
    )
    mark("workload + both replays")
    import torch

    mark("server: import torch")
    import threading

    import uvicorn

    from inference.config import EngineConfig
    from inference.engine.engine import Engine
    from inference.loading.loader import default_model_path, load_model
    from inference.serve.app import create_app

    mark("server: import HTTP stack + engine")
    loaded = load_model(default_model_path())
    mark("server: read GGUF")
    try:  # the local server's settings for `agent ask` (agent/llm/local_server.py)
        from agent.llm.local_server import server_threads

        config = EngineConfig(max_seq_len=2048, dtype="auto", threads=server_threads(),
                              draft_tokens=0)  # fmt: skip
    except ImportError:  # a checkout before: torch's threads, speculation on
        try:
            config = EngineConfig(max_seq_len=2048, dtype="auto")
        except ValueError:  # a checkout before dtype "auto"
            config = EngineConfig(max_seq_len=2048)
    engine = Engine(loaded, config)
    mark("server: build engine (weights, probe)")
    app = create_app(engine, model_name=loaded.name)
    mark("server: create app")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    mark("server: listening")
    from agent.llm.client import LLMClient, LLMConfig
    from agent.modes.model_reading import read_question

    client = LLMClient(LLMConfig(base_url=f"http://127.0.0.1:{port}/v1"))
    for call in ("first", "second"):
        reading = read_question(QUESTION, client, workspace.policy.name)
        assert reading.scenario == scenario
        mark(f"model reading, {call} call")
    print(f"dtype {engine.model.dtype}, weights {engine.weights}, torch threads "
          f"{torch.get_num_threads()}", file=sys.stderr)  # fmt: skip
    server.should_exit = True
    print(json.dumps(marks))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _print_phases(table: dict[str, dict[str, tuple[float, float]]]) -> None:
    names = list(next(iter(table.values())))
    header = "".join(f"{label:>22}" for label in table)
    print(f"{'phase (wall s / CPU s)':<42}{header}")
    for name in names:
        cells = "".join(
            f"{f'{p[name][0]:.2f} / {p[name][1]:.2f}' if name in p else '-':>22}"
            for p in table.values()
        )
        print(f"{name:<42}{cells}")
    totals = "".join(
        f"{f'{sum(w for w, _ in p.values()):.2f} / {sum(c for _, c in p.values()):.2f}':>22}"
        for p in table.values()
    )
    print(f"{'total (in series)':<42}{totals}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--runs", type=int, default=2, help="warm runs after the cold one")
    parser.add_argument("--no-phases", dest="phases", action="store_false")
    parser.add_argument("--phase-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase_worker:
        phase_worker()
        return
    roots = {"this": ROOT}
    if args.baseline:
        roots = {"baseline": args.baseline.resolve(), "this": ROOT}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}; question: {QUESTION!r}")  # fmt: skip
    results: dict[str, list[dict[str, Any]]] = {label: [] for label in roots}
    with tempfile.TemporaryDirectory(prefix="ask-latency-") as tmp:
        where = {label: Path(tmp) / label for label in roots}
        caches = {label: fresh_cache(where[label]) for label in roots}
        for i in range(1 + args.runs):  # the checkouts alternate, so both see the same load
            for label, root in roots.items():
                result = run_ask(root, caches[label], where[label] / "data")
                result["kind"] = "cold" if i == 0 else "warm"
                results[label].append(result)
                print(f"  {label:<9} {result['kind']}  wall {result['wall_s']:6.2f} s  CPU "
                      f"{result['cpu_s']:6.2f} s  load {os.getloadavg()[0]:.2f}  "
                      f"| {result['read']}")  # fmt: skip
        for label, runs in results.items():
            warm = [r["wall_s"] for r in runs if r["kind"] == "warm"]
            warm_cpu = [r["cpu_s"] for r in runs if r["kind"] == "warm"]
            verdict = "ok" if warm and statistics.median(warm) < 20 else "OVER TARGET"
            print(f"{label}: cold {runs[0]['wall_s']:.2f} s (CPU {runs[0]['cpu_s']:.2f} s); "
                  f"warm median {statistics.median(warm):.2f} s (CPU "
                  f"{statistics.median(warm_cpu):.2f} s); target < 20 s: {verdict}")  # fmt: skip
        if "baseline" in results:
            base, this = results["baseline"], results["this"]
            cold = base[0]["wall_s"] / this[0]["wall_s"]
            warm_ratio = statistics.median(
                b["wall_s"] / t["wall_s"] for b, t in zip(base[1:], this[1:], strict=True)
            )
            print(f"speed-up (baseline / this): cold x{cold:.2f}, warm x{warm_ratio:.2f}")
        if args.phases:
            table = {label: phases(root, caches[label], where[label] / "data")
                     for label, root in roots.items()}  # fmt: skip
            _print_phases(table)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

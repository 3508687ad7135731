"""The agent against its baselines on seven seeded scenario families at 10, 50 and 100 jobs.

Baselines: FCFS, SJF (no backfilling), EASY and conservative backfilling (FCFS order), all
from the simulator, and CP-SAT (`agent.batch.solver`, the model the agent also uses as a candidate
plan; OR-Tools, when installed) schedules minimizing makespan and
mean weighted wait under a time limit. The agent dispatches with the embedded model through
the local server (started here) unless --no-llm. Prints a table and the machine, and saves
everything as JSON.

    python bench/agent_eval.py --quick            # one seed, CP-SAT 3 s per solve
    python bench/agent_eval.py --seeds 3          # more seeds
    python bench/agent_eval.py --quick --no-llm   # the guarded heuristic alone
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.batch.scenarios import FAMILIES, DispatchScenario, make_scenario  # noqa: E402
from agent.batch.schedule import Batch, Objective  # noqa: E402
from agent.batch.solver import solve  # noqa: E402
from agent.llm.client import LLMClient, LLMConfig  # noqa: E402
from agent.llm.local_server import llm_endpoint  # noqa: E402
from agent.modes.dispatch import DispatchConfig, dispatch, result_json  # noqa: E402
from hpc.sim import Policy, simulate  # noqa: E402

BASELINES = {"fcfs": "fcfs:none", "sjf": "sjf:none", "easy": "fcfs:easy",
             "conservative": "fcfs:conservative"}  # fmt: skip
SIZES = (10, 50, 100)


def cpsat(batch: Batch, objective: str, limit_s: float) -> dict[str, Any] | None:
    """A CP-SAT schedule (`agent.batch.solver.solve`; None without OR-Tools or a solution)."""
    obj = Objective(objective)
    # A feasible hint: the best heuristic's schedule, so a short limit still has an answer.
    hint = min((p.start_s for p in batch.heuristic_plans()), key=lambda s: batch.value(s, obj))
    solution = solve(batch, obj, time_limit_s=limit_s, hint=hint)
    if solution is None:
        return None
    return {"metrics": batch.metrics(solution.plan.start_s), "optimal": solution.optimal,
            "wall_s": solution.wall_s}  # fmt: skip


def evaluate(scenario: DispatchScenario, llm: LLMClient | None, limit_s: float) -> dict[str, Any]:
    batch = Batch(scenario.jobs, scenario.machine)
    row: dict[str, Any] = {"scenario": scenario.name, "family": scenario.family,
                           "jobs": len(batch), "baselines": {}}  # fmt: skip
    for key, name in BASELINES.items():
        start = simulate(scenario.jobs, scenario.machine, Policy.parse(name)).start_s
        row["baselines"][key] = batch.metrics(start.astype(np.int64))
    for objective in ("makespan", "weighted_wait"):
        row["baselines"][f"cpsat_{objective}"] = cpsat(batch, objective, limit_s)
    result = dispatch(scenario, llm, config=DispatchConfig(objective=Objective.MEAN_WAIT))
    row["agent"] = {**result_json(result), "metrics": batch.metrics(result.start_s)}
    row["agent"]["wall_per_decision_s"] = result.wall_s / max(len(result.decisions), 1)
    row["agent"]["infeasible_executed"] = len(batch.violations(result.start_s))
    if len(batch) <= 10:  # the makespan comparison with CP-SAT
        mk = dispatch(scenario, llm, config=DispatchConfig(objective=Objective.MAKESPAN))
        row["agent_makespan"] = {**result_json(mk), "metrics": batch.metrics(mk.start_s)}
    return row


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'scenario':22s} {'agent':>8s} {'fcfs':>8s} {'sjf':>8s} {'easy':>8s} "
            f"{'cons':>8s} {'cp-ww':>8s} | {'mk agent':>8s} {'mk cpsat':>8s} | "
            f"{'bsld':>6s} {'util':>5s} {'jain':>5s} {'rej':>3s} {'inf':>3s} {'llm':>4s} "
            f"{'tokens':>7s} {'s/dec':>6s} {'wall':>6s} {'cp':>5s}")  # fmt: skip
    lines = ["mean wait (s) of the agent and each baseline; makespan (s) vs CP-SAT; cp: the "
             "agent's solver plans adopted/calls (the makespan run at 10 jobs)", head]  # fmt: skip
    for r in rows:
        b, a = r["baselines"], r["agent"]
        cw = b["cpsat_weighted_wait"]
        cm = b["cpsat_makespan"]
        mka = r.get("agent_makespan", a)
        mk = mka["metrics"]["makespan"]
        lines.append(
            f"{r['scenario']:22s} {a['metrics']['mean_wait']:8.0f} {b['fcfs']['mean_wait']:8.0f} "
            f"{b['sjf']['mean_wait']:8.0f} {b['easy']['mean_wait']:8.0f} "
            f"{b['conservative']['mean_wait']:8.0f} "
            f"{cw['metrics']['mean_wait'] if cw else float('nan'):8.0f} | {mk:8.0f} "
            f"{cm['metrics']['makespan'] if cm else float('nan'):8.0f} | "
            f"{a['metrics']['mean_bsld']:6.2f} {a['summary']['utilization']:5.2f} "
            f"{a['metrics']['jain']:5.2f} {a['guard_rejections']:3d} "
            f"{a['infeasible_executed']:3d} {a['llm_calls']:4d} "
            f"{a['prompt_tokens'] + a['completion_tokens']:7d} {a['wall_per_decision_s']:6.3f} "
            f"{a['wall_s']:6.1f} {mka['solver_adopted']:2d}/{mka['solver_calls']:<2d}"
        )
    return "\n".join(lines)


def targets(rows: list[dict[str, Any]]) -> list[str]:
    wins = sum(
        r["agent"]["metrics"]["mean_wait"]
        <= min(r["baselines"][k]["mean_wait"] for k in ("fcfs", "sjf", "easy")) + 1e-9
        for r in rows
    )
    small = [r for r in rows if r["jobs"] <= 10 and r["baselines"]["cpsat_makespan"]]
    near = sum(
        r["agent_makespan"]["metrics"]["makespan"]
        <= 1.05 * r["baselines"]["cpsat_makespan"]["metrics"]["makespan"]
        for r in small
    )
    big = [r["agent"]["wall_s"] for r in rows if r["jobs"] >= 100]
    infeasible = sum(r["agent"]["infeasible_executed"] for r in rows)
    return [
        f"infeasible actions executed: {infeasible} (target 0)",
        f"agent mean wait <= best of FCFS/SJF/EASY: {wins}/{len(rows)} "
        f"({100 * wins / max(len(rows), 1):.0f}%, target >= 95%)",
        f"10-job makespan within 5% of CP-SAT: {near}/{len(small)}",
        f"100-job dispatch wall time: max {max(big, default=0):.1f} s (target < 120 s)",
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one seed, CP-SAT limit 3 s")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--cpsat-limit", type=float, default=10.0, help="seconds per CP-SAT solve")
    ap.add_argument("--no-llm", action="store_true")
    ap.add_argument("--out", default="out/agent_eval.json")
    args = ap.parse_args()
    seeds = 1 if args.quick else args.seeds
    limit = 3.0 if args.quick else args.cpsat_limit
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}", flush=True)  # fmt: skip
    rows: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        llm = None
        if not args.no_llm:
            endpoint = stack.enter_context(llm_endpoint(LLMConfig(timeout_s=120.0)))
            llm = LLMClient(endpoint)
            stack.callback(llm.close)
            print(f"model: {llm.model} at {endpoint.base_url}", flush=True)
        for seed in range(seeds):
            for n in SIZES:
                for family in FAMILIES:
                    row = evaluate(make_scenario(family, n, seed), llm, limit)
                    rows.append(row)
                    print(f"  {row['scenario']}: {row['agent']['wall_s']:.1f} s", flush=True)
    print(table(rows))
    for line in targets(rows):
        print(line)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "targets": targets(rows)}, indent=1, default=str))
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

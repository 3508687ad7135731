"""The agent against its baselines on seven seeded scenario families at 10, 50 and 100 jobs.

Baselines: FCFS, SJF (no backfilling), EASY and conservative backfilling (FCFS order), all
from the simulator, and CP-SAT (`agent.batch.solver`, the model the agent also uses as a candidate
plan; OR-Tools, when installed) schedules minimizing makespan and
mean weighted wait under a time limit. The agent is the guarded search (the default of
`agent dispatch`); with the embedded model (the local server, started here; not with
--no-llm) the search's decisions get the model's rationales, checked by the guard, and the
same scenario is dispatched again with the model's picks (`--llm-picks`): the second table
compares the two. The third runs each scenario under a three-part goal (weighted objectives
and hard constraints, `hpc.objectives`) and says which constraints were met. Prints the
tables and the machine, and saves everything as JSON.

    python bench/agent_eval.py --quick            # one seed, CP-SAT 3 s per solve
    python bench/agent_eval.py --seeds 3          # more seeds
    python bench/agent_eval.py --quick --no-llm   # the guarded search alone
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
from hpc.objectives import Constraint, Goal, Measure  # noqa: E402
from hpc.objectives import Objective as GoalObjective  # noqa: E402
from hpc.sim import Policy, simulate  # noqa: E402

BASELINES = {"fcfs": "fcfs:none", "sjf": "sjf:none", "easy": "fcfs:easy",
             "conservative": "fcfs:conservative"}  # fmt: skip
SIZES = (10, 50, 100)
# The admin's three-part goal: small jobs start within the hour, the machine stays busy,
# users are treated alike; among plans that do all that, low mean wait and high fairness.
GOAL = Goal(
    weights={GoalObjective.MEAN_WAIT: 1.0, GoalObjective.FAIRNESS: 1.0},
    constraints=(
        Constraint(Measure.P95_WAIT, 3600, under_cores=16),
        Constraint(Measure.UTILIZATION, 0.5),
        Constraint(Measure.FAIRNESS_USERS, 0.5),
    ),
)


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


def evaluate(
    scenario: DispatchScenario, llm: LLMClient | None, limit_s: float, rationale_calls: int
) -> dict[str, Any]:
    batch = Batch(scenario.jobs, scenario.machine)
    row: dict[str, Any] = {"scenario": scenario.name, "family": scenario.family,
                           "jobs": len(batch), "baselines": {}}  # fmt: skip
    for key, name in BASELINES.items():
        start = simulate(scenario.jobs, scenario.machine, Policy.parse(name)).start_s
        row["baselines"][key] = batch.metrics(start.astype(np.int64))
    for objective in ("makespan", "weighted_wait"):
        row["baselines"][f"cpsat_{objective}"] = cpsat(batch, objective, limit_s)
    search = DispatchConfig(objective=Objective.MEAN_WAIT, rationale_max_calls=rationale_calls)
    result = dispatch(scenario, llm, config=search)
    row["agent"] = _run(batch, result)
    if llm is not None:  # the model's picks among the same admissible options
        picks = DispatchConfig(objective=Objective.MEAN_WAIT, llm_picks=True, rationales=False)
        row["llm_picks"] = _run(batch, dispatch(scenario, llm, config=picks))
    if len(batch) <= 10:  # the makespan comparison with CP-SAT
        mk = dispatch(scenario, None, config=DispatchConfig(objective=Objective.MAKESPAN))
        row["agent_makespan"] = {**result_json(mk), "metrics": batch.metrics(mk.start_s)}
    row["goal"] = result_json(dispatch(scenario, None, config=DispatchConfig(targets=GOAL)))
    return row


def _run(batch: Batch, result: Any) -> dict[str, Any]:
    out = {**result_json(result), "metrics": batch.metrics(result.start_s)}
    out["wall_per_decision_s"] = result.wall_s / max(len(result.decisions), 1)
    out["infeasible_executed"] = len(batch.violations(result.start_s))
    return out


def picks_table(rows: list[dict[str, Any]]) -> str:
    """The model's picks (--llm-picks) against the search alone, per scenario."""
    head = (f"{'scenario':22s} {'wait search':>11s} {'wait picks':>10s} {'diff':>7s} | "
            f"{'bsld s':>6s} {'bsld p':>6s} | {'mk search':>9s} {'mk picks':>9s} | "
            f"{'jain s':>6s} {'jain p':>6s} | {'s search':>8s} {'s picks':>8s} {'calls':>5s} "
            f"{'rej':>3s} | {'rationale kept/replaced/calls':>29s}")  # fmt: skip
    lines = ["the model's picks (--llm-picks) against the guarded search alone; decision "
             "time in seconds (the search's without its rationale calls)", head]  # fmt: skip
    worse = better = 0
    for r in rows:
        a, p = r["agent"], r.get("llm_picks")
        if p is None:
            continue
        ws, wp = a["metrics"]["mean_wait"], p["metrics"]["mean_wait"]
        diff = 100 * (wp - ws) / ws if ws else 0.0
        worse += diff > 0.05
        better += diff < -0.05
        ra = a["rationale"]
        lines.append(
            f"{r['scenario']:22s} {ws:11.0f} {wp:10.0f} {diff:+6.1f}% | "
            f"{a['metrics']['mean_bsld']:6.2f} {p['metrics']['mean_bsld']:6.2f} | "
            f"{a['metrics']['makespan']:9.0f} {p['metrics']['makespan']:9.0f} | "
            f"{a['metrics']['jain']:6.2f} {p['metrics']['jain']:6.2f} | "
            f"{a['wall_s']:8.1f} {p['wall_s']:8.1f} {p['llm_calls']:5d} "
            f"{p['guard_rejections']:3d} | "
            f"{ra['by_model']:>13d}/{ra['replaced']}/{ra['usage'][0]} ({ra['wall_s']:.0f} s)"
        )
    n = sum(1 for r in rows if "llm_picks" in r)
    lines.append(f"mean wait with the model's picks: worse on {worse}/{n}, better on {better}/{n}, "
                 f"equal on {n - worse - better}/{n}")  # fmt: skip
    return "\n".join(lines)


def goal_table(rows: list[dict[str, Any]]) -> str:
    """The three-part goal per scenario: each constraint measured, met or not."""
    lines = [f"goal: {GOAL.describe()}", f"{'scenario':22s} {'agent':>9s} {'best heur.':>10s} | "
             "constraints measured on the agent's plan (best heuristic's in brackets)"]  # fmt: skip
    met = 0
    for r in rows:
        g = r["goal"]["goal"]
        ok = "met" if g["feasible"] else "INFEASIBLE"
        base = "met" if g["best_heuristic"]["feasible"] else "infeasible"
        met += g["feasible"]
        parts = [
            f"{c['constraint']}: {_measure(c)} ({_measure(b)})"
            + ("" if c["met"] else " NOT met")
            for c, b in zip(g["constraints"], g["best_heuristic"]["constraints"], strict=True)
        ]  # fmt: skip
        lines.append(f"{r['scenario']:22s} {ok:>9s} {base:>10s} | " + "; ".join(parts))
    lines.append(f"every constraint met: {met}/{len(rows)} scenarios (the others reported "
                 "infeasible: the closest plan found)")  # fmt: skip
    return "\n".join(lines)


def progress(row: dict[str, Any]) -> str:
    """One finished scenario in a line (printed as the bench goes)."""
    a, p, g = row["agent"], row.get("llm_picks"), row["goal"]["goal"]
    wait = a["metrics"]["mean_wait"]
    line = f"{row['scenario']}: search mean wait {wait:.0f} s in {a['wall_s']:.1f} s"
    if p is not None:
        line += (f"; model picks {p['metrics']['mean_wait']:.0f} s in {p['wall_s']:.1f} s "
                 f"({p['llm_calls']} calls)")  # fmt: skip
    return line + f"; goal {'met' if g['feasible'] else 'INFEASIBLE'}"


def _measure(check: dict[str, Any]) -> str:
    value = float(check["measured"])
    return f"{value:.0f} s" if "wait" in check["constraint"] else f"{value:.2f}"


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
    ap.add_argument("--rationale-calls", type=int, default=2,
                    help="rationale calls per dispatch (4 decisions each)")  # fmt: skip
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)),
                    help="batch sizes, comma-separated (default 10,50,100)")  # fmt: skip
    ap.add_argument("--out", default="out/agent_eval.json")
    args = ap.parse_args()
    seeds = 1 if args.quick else args.seeds
    limit = 3.0 if args.quick else args.cpsat_limit
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}", flush=True)  # fmt: skip
    rows: list[dict[str, Any]] = []
    out = Path(args.out)
    with contextlib.ExitStack() as stack:
        llm = None
        if not args.no_llm:
            # SCHEDSIGHT_LLM_BASE_URL: a server already running (else one is started here).
            config = LLMConfig(base_url=os.environ.get("SCHEDSIGHT_LLM_BASE_URL", ""),
                               timeout_s=120.0)  # fmt: skip
            endpoint = stack.enter_context(llm_endpoint(config))
            llm = LLMClient(endpoint)
            stack.callback(llm.close)
            print(f"model: {llm.model} at {endpoint.base_url}", flush=True)
        for seed in range(seeds):
            for n in [int(x) for x in args.sizes.split(",")]:
                for family in FAMILIES:
                    row = evaluate(make_scenario(family, n, seed), llm, limit,
                                   args.rationale_calls)  # fmt: skip
                    rows.append(row)
                    print("  " + progress(row), flush=True)
                    out.parent.mkdir(parents=True, exist_ok=True)  # what is done so far
                    out.write_text(json.dumps({"rows": rows}, indent=1, default=str))
    print(table(rows))
    if not args.no_llm:
        print(picks_table(rows))
    print(goal_table(rows))
    for line in targets(rows):
        print(line)
    out.write_text(json.dumps({"rows": rows, "targets": targets(rows)}, indent=1, default=str))
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

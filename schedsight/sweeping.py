"""What-if sweeps: a grid of (policy, machine size) points over one trace, each replayed and
stored as a run. Locally in a process pool, or on the cluster as one Slurm job array (a
task per point) writing into the shared database.

A sweep is a plan file (JSON: the trace, its cleaning, the points) that every task reads;
task i replays point i (`schedsight sweep-task PLAN`, with Slurm's SLURM_ARRAY_TASK_ID).
Each point is a `ScenarioSpec`, so a point already stored is reused, not replayed again.
"""

from __future__ import annotations

import itertools
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from db.scenarios import ScenarioSpec
from db.store import Store
from hpc.model import Machine
from hpc.sim import Policy
from hpc.workload.cleaning import Estimate
from hpc.workload.loading import load_workload
from schedsight.storage import SavedRun, run_and_save


@dataclass(frozen=True, slots=True)
class SweepPoint:
    policy: str  # "sjf:easy"
    procs: int


@dataclass(frozen=True, slots=True)
class SweepPlan:
    """Everything a task needs: the trace (a path every node reads) and the points."""

    trace: str
    points: tuple[SweepPoint, ...]
    estimate: str = Estimate.REQUESTED.value

    @classmethod
    def grid(cls, trace: str, policies: list[str], procs: list[int], estimate: str) -> SweepPlan:
        """Every policy at every machine size, policies varying fastest."""
        for text in policies:
            Policy.parse(text)  # a bad policy fails here, not in 20 tasks
        points = tuple(SweepPoint(p, n) for n, p in itertools.product(procs, policies))
        return cls(str(Path(trace).resolve()), points, estimate)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"trace": self.trace, "estimate": self.estimate,
                "points": [asdict(p) for p in self.points]}  # fmt: skip
        path.write_text(json.dumps(data, indent=1))

    @classmethod
    def load(cls, path: Path) -> SweepPlan:
        data = json.loads(path.read_text())
        points = tuple(SweepPoint(**p) for p in data["points"])
        return cls(data["trace"], points, data["estimate"])


def run_point(database_url: str, plan: SweepPlan, index: int) -> SavedRun:
    """Replay point `index` of `plan` and store its run (reusing a stored one)."""
    point = plan.points[index]
    loaded = load_workload(plan.trace, procs=point.procs, estimate=Estimate(plan.estimate))
    spec = ScenarioSpec(Policy.parse(point.policy), Machine.procs_only(point.procs),
                        Estimate(plan.estimate))  # fmt: skip
    store = Store.open(database_url)
    try:
        return run_and_save(store, loaded, spec)
    finally:
        store.engine.dispose()


def run_local(database_url: str, plan: SweepPlan, workers: int) -> list[SavedRun]:
    """Every point in a process pool of `workers` (1: in this process), in plan order."""
    indices = range(len(plan.points))
    if workers <= 1:
        return [run_point(database_url, plan, i) for i in indices]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run_point, [database_url] * len(plan.points),
                             [plan] * len(plan.points), indices))  # fmt: skip


def array_index() -> int:
    """This Slurm array task's index (SLURM_ARRAY_TASK_ID)."""
    text = os.environ.get("SLURM_ARRAY_TASK_ID", "")
    if not text.isdigit():
        raise ValueError("SLURM_ARRAY_TASK_ID is not set: sweep-task runs inside a Slurm array")
    return int(text)


def stored_runs(database_url: str, plan: SweepPlan) -> list[int | None]:
    """The stored run of each point (None where a task has not stored one)."""
    from db.runs import reusable_run
    from db.scenarios import get_or_create_scenario
    from db.session import transaction
    from db.workloads import import_workload

    store = Store.open(database_url)
    found: list[int | None] = [None] * len(plan.points)
    try:
        for procs in sorted({p.procs for p in plan.points}):
            loaded = load_workload(plan.trace, procs=procs, estimate=Estimate(plan.estimate))
            with transaction(store.sessions) as session:
                workload = import_workload(
                    session, trace=loaded.trace, name=Path(plan.trace).name, cleaning=loaded.report
                ).workload
                for i, point in enumerate(plan.points):
                    if point.procs != procs:
                        continue
                    spec = ScenarioSpec(Policy.parse(point.policy), Machine.procs_only(procs),
                                        Estimate(plan.estimate))  # fmt: skip
                    scenario = get_or_create_scenario(
                        session, workload_id=workload.id, workload_checksum=workload.checksum,
                        spec=spec,
                    )  # fmt: skip
                    run = reusable_run(session, scenario_id=scenario.id)
                    found[i] = run.id if run is not None else None
    finally:
        store.engine.dispose()
    return found

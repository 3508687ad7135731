"""Wiring between the simulator and the database: save or reuse a run (`db.store.Store`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from db.runs import RunResults, finish_run, recording_run, reusable_run
from db.scenarios import ScenarioSpec, get_or_create_scenario
from db.session import transaction
from db.store import Store
from db.workloads import import_workload
from hpc.metrics import breakdown, summarize
from hpc.sim import simulate
from hpc.workload.loading import LoadedWorkload

__all__ = ["SavedRun", "Store", "run_and_save"]


@dataclass(frozen=True, slots=True)
class SavedRun:
    run_id: int
    scenario_id: int
    workload_id: int
    reused: bool
    metrics: dict[str, Any]
    per_user: list[dict[str, Any]]
    per_partition: list[dict[str, Any]]


def run_and_save(
    store: Store, loaded: LoadedWorkload, spec: ScenarioSpec, *, recompute: bool = False
) -> SavedRun:
    """Replay `loaded` under `spec` and store the run; reuse a stored result unless told not to."""
    with transaction(store.sessions) as session:
        workload = import_workload(
            session,
            trace=loaded.trace,
            name=loaded.trace.source.rsplit("/", 1)[-1],
            cleaning=loaded.report,
        ).workload
        scenario = get_or_create_scenario(
            session, workload_id=workload.id, workload_checksum=workload.checksum, spec=spec
        )
        previous = None if recompute else reusable_run(session, scenario_id=scenario.id)
        if previous is not None:
            return SavedRun(
                previous.id,
                scenario.id,
                workload.id,
                True,
                previous.metrics or {},
                previous.per_user or [],
                previous.per_partition or [],
            )
        scenario_id, workload_id = scenario.id, workload.id

    with recording_run(store.sessions, scenario_id=scenario_id) as run_id:
        result = simulate(
            loaded.jobs, spec.machine, spec.policy, capacity_changes=spec.capacity_changes
        )
        metrics = summarize(result).as_dict()
        results = RunResults(
            metrics=metrics,
            per_user=[r.as_dict() for r in breakdown(result, "user")],
            per_partition=[r.as_dict() for r in breakdown(result, "partition")],
            cleaning_report=loaded.report.as_dict(),
            start_s=result.start_s,
            end_s=result.end_s,
        )
        with transaction(store.sessions) as session:
            finish_run(session, run_id=run_id, results=results)
    return SavedRun(
        run_id,
        scenario_id,
        workload_id,
        False,
        metrics,
        results.per_user,
        results.per_partition,
    )

"""Saved what-ifs: each policy's run goes to the database (runs, scenarios, workloads), and a
small JSON index under the data directory names the group so it can be reopened as it was.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dashboard.scenario import PolicyOutcome, WhatIfOutcome, WhatIfRequest
from db.runs import RunResults, finish_run, recording_run
from db.scenarios import ScenarioSpec, get_or_create_scenario
from db.session import transaction
from db.store import Store
from db.workloads import import_workload
from hpc.sim import Policy
from hpc.workload.loading import LoadedWorkload

_SLUG = re.compile(r"[^a-z0-9]+")


def saved_dir(data_dir: Path) -> Path:
    return data_dir / "whatif"


def slug(name: str) -> str:
    text = _SLUG.sub("-", name.lower()).strip("-")[:60]
    if not text:
        raise ValueError("give the what-if a name with at least one letter or digit")
    return text


def save_whatif(
    store: Store, data_dir: Path, name: str, outcome: WhatIfOutcome, loaded: LoadedWorkload
) -> Path:
    """Store every policy's run and write the index; the index file's path."""
    run_ids = [_store_run(store, loaded, outcome, o) for o in outcome.outcomes]
    path = saved_dir(data_dir) / f"{slug(name)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "name": name,
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "request": asdict(outcome.request),
        "machine": outcome.machine,
        "wall_s": outcome.wall_s,
        "run_ids": run_ids,
        "outcomes": [
            {"name": o.name, "summary": o.summary, "per_user": o.per_user,
             "per_partition": o.per_partition}
            for o in outcome.outcomes
        ],
    }  # fmt: skip
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    tmp.replace(path)
    return path


def list_saved(data_dir: Path) -> list[dict[str, Any]]:
    """Newest first: name, file stem, when saved, and the run ids in the database."""
    rows = []
    for path in saved_dir(data_dir).glob("*.json"):
        doc = json.loads(path.read_text())
        rows.append({"name": doc["name"], "key": path.stem, "saved_at": doc["saved_at"],
                     "policies": len(doc["outcomes"]), "run_ids": doc["run_ids"]})  # fmt: skip
    return sorted(rows, key=lambda r: str(r["saved_at"]), reverse=True)


def open_saved(data_dir: Path, key: str) -> WhatIfOutcome:
    path = saved_dir(data_dir) / f"{slug(key)}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no saved what-if {key!r} in {path.parent}")
    doc = json.loads(path.read_text())
    req = dict(doc["request"])
    request = WhatIfRequest(
        jobs=req["jobs"], seed=req["seed"], procs=req["procs"],
        policies=tuple(req["policies"]), capacity=tuple(req["capacity"]),
        weights=tuple(req["weights"]),
    )  # fmt: skip
    outcomes = [
        PolicyOutcome(o["name"], o["summary"], o["per_user"], o["per_partition"])
        for o in doc["outcomes"]
    ]
    return WhatIfOutcome(request, doc["machine"], outcomes, float(doc["wall_s"]))


def _store_run(
    store: Store, loaded: LoadedWorkload, outcome: WhatIfOutcome, o: PolicyOutcome
) -> int:
    policy = Policy.parse(o.name, weights=outcome.request.parsed_weights())
    spec = ScenarioSpec(policy, loaded.machine, capacity_changes=outcome.request.parsed_capacity())
    with transaction(store.sessions) as session:
        workload = import_workload(
            session, trace=loaded.trace, name=loaded.trace.source, cleaning=loaded.report
        ).workload
        scenario = get_or_create_scenario(
            session, workload_id=workload.id, workload_checksum=workload.checksum, spec=spec
        )
        scenario_id = scenario.id
    with recording_run(store.sessions, scenario_id=scenario_id) as run_id:
        results = RunResults(
            metrics=o.summary,
            per_user=o.per_user,
            per_partition=o.per_partition,
            cleaning_report=loaded.report.as_dict(),
            start_s=o.stored["start_s"],
            end_s=o.stored["end_s"],
        )
        with transaction(store.sessions) as session:
            finish_run(session, run_id=run_id, results=results)
    return run_id

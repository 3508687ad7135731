"""Two processes writing at once (SQLite with WAL, PostgreSQL): both succeed, nothing is lost."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from sqlalchemy import func, select

from db.audit import append_audit
from db.models import AuditEntry, RunStatus, Scenario, SimulationRun, Workload
from db.session import make_engine, session_factory, transaction
from hpc.workload.lublin import generate
from hpc.workload.swf import write_swf
from schedsight.storage import Store

RUNS_EACH = 3
AUDITS_EACH = 25


def _writer(db_url: str, trace: str, start: object, worker: int) -> None:
    from db.scenarios import ScenarioSpec
    from hpc.sim import Policy
    from hpc.workload.loading import load_workload
    from schedsight.storage import run_and_save

    engine = make_engine(db_url)
    store = Store(engine, session_factory(engine))
    loaded = load_workload(trace)
    spec = ScenarioSpec(Policy.parse("fcfs:easy"), loaded.machine)
    start.wait(30)  # type: ignore[attr-defined]
    for k in range(AUDITS_EACH):
        with transaction(store.sessions) as session:
            append_audit(
                session,
                actor=f"worker-{worker}",
                action="hold",
                target=f"job-{k}",
                params={"k": k},
                backend="test",
                result="ok",
            )
        if k % 8 == 0 and k // 8 < RUNS_EACH:
            run_and_save(store, loaded, spec, recompute=True)


def test_two_processes_write_runs_and_audit_entries_at_once(store: Store, tmp_path: Path) -> None:
    trace = tmp_path / "w.swf"
    write_swf(generate(2000, seed=4, procs=64), trace)
    url = store.engine.url.render_as_string(hide_password=False)
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    workers = [ctx.Process(target=_writer, args=(url, str(trace), start, w)) for w in (1, 2)]
    for w in workers:
        w.start()
    start.set()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    with transaction(store.sessions) as s:
        assert s.execute(select(func.count()).select_from(Workload)).scalar_one() == 1
        assert s.execute(select(func.count()).select_from(Scenario)).scalar_one() == 1
        runs = s.scalars(select(SimulationRun)).all()
        assert len(runs) == 2 * RUNS_EACH
        assert {r.status for r in runs} == {RunStatus.SUCCEEDED}
        audits = s.scalars(select(AuditEntry)).all()
        assert len(audits) == 2 * AUDITS_EACH
        for worker in (1, 2):
            mine = [a.params["k"] for a in audits if a.actor == f"worker-{worker}"]
            assert sorted(mine) == list(range(AUDITS_EACH))

"""Per-job resources beside a workload imported from Slurm, on SQLite and PostgreSQL."""

from __future__ import annotations

from db.job_resources import load_job_resources, save_job_resources
from db.session import transaction
from db.workloads import delete_workload, import_workload
from hpc.model import Machine
from hpc.site.model import JobResources
from hpc.workload.cleaning import clean
from hpc.workload.lublin import generate
from schedsight.storage import Store


def _workload(store: Store) -> int:
    trace = generate(20, seed=1, procs=64)
    _, report = clean(trace, machine=Machine.procs_only(64))
    with transaction(store.sessions) as session:
        return import_workload(session, trace=trace, name="w", cleaning=report).workload.id


def test_resources_round_trip_by_job_number_and_go_with_the_workload(store: Store) -> None:
    workload_id = _workload(store)
    rows = [JobResources(1, gpus=2, account="physics", qos="high", nodes=2),
            JobResources(2), JobResources(1, gpus=4, account="physics")]  # fmt: skip
    with transaction(store.sessions) as session:
        save_job_resources(session, workload_id, rows)
    with transaction(store.sessions) as session:
        back = load_job_resources(session, workload_id)
    assert back == {1: JobResources(1, gpus=4, account="physics"), 2: JobResources(2)}
    with transaction(store.sessions) as session:
        save_job_resources(session, workload_id, [JobResources(3, gpus=1)])  # replaces
        assert list(load_job_resources(session, workload_id)) == [3]
        delete_workload(session, workload_id=workload_id)
        assert load_job_resources(session, workload_id) == {}

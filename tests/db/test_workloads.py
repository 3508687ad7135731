"""Workloads: bulk import, exact load-back, idempotence by checksum."""

from __future__ import annotations

import numpy as np

from db.session import transaction
from db.workloads import count_jobs, import_workload, list_workloads, load_trace
from hpc.model import Machine
from hpc.workload.cleaning import clean
from hpc.workload.lublin import generate
from hpc.workload.swf import parse_swf
from schedsight.storage import Store


def _import(store: Store, n: int = 2000, seed: int = 1) -> tuple[int, bool]:
    trace = generate(n, seed=seed, procs=128)
    _, report = clean(trace, machine=Machine.procs_only(128))
    with transaction(store.sessions) as session:
        result = import_workload(session, trace=trace, name=f"gen-{seed}", cleaning=report)
        return result.workload.id, result.created


def test_import_then_load_gives_back_the_same_trace(store: Store) -> None:
    trace = generate(3000, seed=5, procs=64)
    _, report = clean(trace, machine=Machine.procs_only(64))
    with transaction(store.sessions) as session:
        workload_id = import_workload(session, trace=trace, name="w", cleaning=report).workload.id
    with transaction(store.sessions) as session:
        back = load_trace(session, workload_id=workload_id)
        assert count_jobs(session, workload_id=workload_id) == 3000
    np.testing.assert_array_equal(back.records, trace.records)
    np.testing.assert_array_equal(back.line_numbers, trace.line_numbers)
    assert back.header.keys == trace.header.keys
    assert back.checksum() == trace.checksum()


def test_fractional_fields_survive_the_round_trip(store: Store) -> None:
    text = "; MaxProcs: 4\n1 0 5 100 2 37.5 1024.25 2 200 -1 1 3 1 -1 -1 -1 -1 -1\n"
    trace = parse_swf(text, source="frac.swf")
    _, report = clean(trace, machine=Machine.procs_only(4))
    with transaction(store.sessions) as session:
        wid = import_workload(session, trace=trace, name="frac", cleaning=report).workload.id
    with transaction(store.sessions) as session:
        back = load_trace(session, workload_id=wid)
    assert back.records[0, 5] == 37.5 and back.records[0, 6] == 1024.25


def test_importing_the_same_workload_twice_stores_it_once(store: Store) -> None:
    first_id, created = _import(store)
    again_id, created_again = _import(store)
    assert created and not created_again
    assert again_id == first_id
    with transaction(store.sessions) as session:
        assert len(list_workloads(session)) == 1
        assert count_jobs(session, workload_id=first_id) == 2000


def test_different_content_is_a_different_workload(store: Store) -> None:
    a, _ = _import(store, seed=1)
    b, _ = _import(store, seed=2)
    assert a != b


def test_cleaning_report_is_kept_with_the_workload(store: Store) -> None:
    text = (
        "; MaxProcs: 4\n"
        "1 0 -1 100 2 -1 -1 2 -1 -1 1 1 1 -1 -1 -1 -1 -1\n"
        "2 5 -1 0 2 -1 -1 2 50 -1 1 1 1 -1 -1 -1 -1 -1\n"
    )
    trace = parse_swf(text, source="tiny.swf")
    _, report = clean(trace, machine=Machine.procs_only(4))
    with transaction(store.sessions) as session:
        workload = import_workload(session, trace=trace, name="tiny", cleaning=report).workload
        stored = workload.cleaning_report
    assert stored["dropped_nonpositive_runtime"] == 1
    assert stored["requested_time_filled_from_actual"] == 1
    assert any("run time" in line for line in stored["lines"])

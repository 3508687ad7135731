"""The real and model traces in ../shared/traces load, clean and round-trip as documented."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from hpc.workload.cleaning import clean, machine_for
from hpc.workload.swf import read_swf, write_swf
from hpc.workload.trace import SwfTrace

pytestmark = pytest.mark.traces


@dataclass(frozen=True)
class Expected:
    """What a trace holds: README job counts, and cleaning counts measured on the files."""

    file: str
    jobs: int
    machine_procs: int
    runtime_le_0: int
    size_le_0: int = 0
    requested_time_unknown: int = 0
    runtime_exceeds_request: int = 0


TRACES = [
    Expected("lublin_256.swf", 10_000, 256, 0, requested_time_unknown=10_000),
    Expected("lublin_256_new2.swf", 10_000, 256, 0, requested_time_unknown=10_000),
    Expected("alea-hpc2n-subset.swf", 3_170, 240, 25, runtime_exceeds_request=320),
    Expected("KTH-SP2-1996-2.1-cln.swf.gz", 28_476, 100, 8, 1, runtime_exceeds_request=475),
    Expected(
        "DOST-ASTI_COARE-Saliksik-2020-cln.swf", 19_760, 1_728, 0, runtime_exceeds_request=1_375
    ),
    Expected("LCG.swf.gz", 188_041, 24_515, 521),
]


@cache
def load(path: Path) -> SwfTrace:
    return read_swf(path)


@pytest.mark.parametrize("expected", TRACES, ids=lambda e: e.file)
def test_every_trace_loads_with_the_documented_job_count(
    traces_dir: Path, expected: Expected
) -> None:
    trace = load(traces_dir / expected.file)
    assert len(trace) == expected.jobs
    assert trace.skipped_count == 0
    assert int(np.sum(trace.column("run_time") <= 0)) == expected.runtime_le_0


@pytest.mark.parametrize("expected", TRACES, ids=lambda e: e.file)
def test_cleaning_drops_and_fills_what_the_trace_calls_for(
    traces_dir: Path, expected: Expected
) -> None:
    trace = load(traces_dir / expected.file)
    machine = machine_for(trace)
    table, report = clean(trace, machine=machine)
    assert machine.total_procs == expected.machine_procs
    assert report.dropped_nonpositive_runtime == expected.runtime_le_0
    assert report.dropped_nonpositive_size == expected.size_le_0
    assert report.dropped_too_large == 0
    assert report.requested_time_filled_from_actual == expected.requested_time_unknown
    assert report.runtime_exceeds_request == expected.runtime_exceeds_request
    assert len(table) == report.kept == expected.jobs - expected.runtime_le_0 - expected.size_le_0
    assert bool(np.all(table.req_time_s > 0))


def test_lublin_header_has_max_nodes_only(traces_dir: Path) -> None:
    header = load(traces_dir / "lublin_256.swf").header
    assert (header.max_procs, header.max_nodes) == (None, 256)


def test_coare_is_tab_separated_with_job_numbers_from_zero_out_of_order(traces_dir: Path) -> None:
    path = traces_dir / "DOST-ASTI_COARE-Saliksik-2020-cln.swf"
    assert "\t" in path.read_text().splitlines()[-1]
    trace = load(path)
    job_numbers = trace.column("job_number")
    assert job_numbers.min() == 0
    assert bool(np.any(np.diff(job_numbers) < 0))  # listed out of job-number order...
    assert bool(np.all(np.diff(trace.column("submit_time")) >= 0))  # ...but in submit order
    assert trace.header.keys["Partition"].splitlines() == [
        "0 gpu",
        "1 serial",
        "2 debug",
        "3 batch",
    ]
    table, report = clean(trace, machine=machine_for(trace))
    assert report.out_of_submit_order == 0
    assert table.job_id[0] == 0


def test_lcg_jobs_are_all_serial(traces_dir: Path) -> None:
    trace = load(traces_dir / "LCG.swf.gz")
    assert bool(np.all(trace.column("requested_procs") == -1))  # size comes from field 5
    table, _ = clean(trace, machine=machine_for(trace))
    assert bool(np.all(table.procs == 1))


def test_alea_keeps_fractional_cpu_times(traces_dir: Path) -> None:
    cpu = load(traces_dir / "alea-hpc2n-subset.swf").column("avg_cpu_time")
    assert 552.21 in cpu.tolist()


@pytest.mark.parametrize("name", ["alea-hpc2n-subset.swf", "KTH-SP2-1996-2.1-cln.swf.gz"])
def test_real_traces_round_trip_exactly(traces_dir: Path, tmp_path: Path, name: str) -> None:
    original = load(traces_dir / name)
    write_swf(original, tmp_path / name)
    back = read_swf(tmp_path / name)
    assert np.array_equal(back.records, original.records)
    assert back.header == original.header

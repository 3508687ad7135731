"""Cleaning a trace for simulation: which jobs are kept, what they become, and the report."""

from __future__ import annotations

import pytest

from hpc.errors import WorkloadError
from hpc.model import Machine
from hpc.workload.cleaning import Estimate, JobRef, clean, machine_for
from hpc.workload.swf import parse_swf
from hpc.workload.trace import SWF_FIELDS, SwfTrace

MACHINE = Machine.procs_only(64)


def job(**fields: float) -> str:
    """One SWF line: a valid 4-processor job unless `fields` (SWF names) say otherwise."""
    values: dict[str, float] = dict.fromkeys(SWF_FIELDS, -1)
    values.update(job_number=1, submit_time=0, run_time=100, allocated_procs=4)
    values.update(requested_procs=4, requested_time=200, user_id=7, group_id=3)
    values.update(queue=2, partition=1, requested_memory=1024)
    values.update(fields)
    return " ".join(str(values[name]) for name in SWF_FIELDS)


def trace(*lines: str, header: str = "") -> SwfTrace:
    """A trace named trace.swf whose record k sits on line k (plus the header's lines)."""
    return parse_swf(header + "\n".join(lines) + "\n", source="trace.swf")


def test_a_valid_job_becomes_one_row_with_its_fields() -> None:
    table, report = clean(trace(job(job_number=5, submit_time=30)), machine=MACHINE)
    row = table.job(0)
    assert (row.job_id, row.submit_s, row.run_s, row.procs, row.req_time_s) == (5, 30, 100, 4, 200)
    assert (row.user, row.group, row.queue, row.partition, row.req_mem_kb) == (7, 3, 2, 1, 1024)
    assert (report.total, report.kept, report.dropped) == (1, 1, 0)
    assert report.lines() == ["trace.swf: 1 job read, 1 kept (64 processors)"]


def test_size_is_the_requested_processors_else_the_allocated_ones() -> None:
    jobs = trace(
        job(requested_procs=8, allocated_procs=6), job(requested_procs=-1, allocated_procs=6)
    )
    table, _ = clean(jobs, machine=MACHINE)
    assert table.procs.tolist() == [8, 6]


def test_jobs_with_no_run_time_are_dropped_and_named() -> None:
    jobs = trace(job(job_number=1), job(job_number=2, run_time=0), job(job_number=3, run_time=-1))
    table, report = clean(jobs, machine=MACHINE)
    assert table.job_id.tolist() == [1]
    assert report.dropped_nonpositive_runtime == 2
    assert report.examples["dropped_nonpositive_runtime"] == [JobRef(2, 2), JobRef(3, 3)]
    assert report.lines()[1] == (
        "dropped 2 jobs with run time <= 0 (first: job 2 at trace.swf:2, job 3 at trace.swf:3)"
    )


def test_jobs_with_no_size_are_dropped() -> None:
    jobs = trace(job(), job(job_number=2, requested_procs=-1, allocated_procs=0))
    _, report = clean(jobs, machine=MACHINE)
    assert report.dropped_nonpositive_size == 1
    assert report.lines()[1] == (
        "dropped 1 job with no size (requested and allocated procs <= 0) "
        "(first: job 2 at trace.swf:2)"
    )


def test_jobs_larger_than_the_machine_are_dropped() -> None:
    jobs = trace(job(requested_procs=64), job(job_number=2, requested_procs=65))
    table, report = clean(jobs, machine=MACHINE)
    assert table.procs.tolist() == [64]
    assert report.dropped_too_large == 1
    assert report.lines()[1] == (
        "dropped 1 job larger than the machine (64 processors) (first: job 2 at trace.swf:2)"
    )


def test_on_a_cluster_size_counts_whole_nodes_and_memory() -> None:
    cluster = Machine.cluster(2, 4, mem_per_node_mb=1)  # 2 nodes x 4 cores, 1 MB each
    jobs = trace(
        job(job_number=1, requested_procs=8, requested_memory=128),  # 2 nodes, 0.5 MB each
        job(job_number=2, requested_procs=9, requested_memory=-1),  # 3 nodes
        job(job_number=3, requested_procs=2, requested_memory=2048),  # 4 MB: 4 nodes
    )
    table, report = clean(jobs, machine=cluster)
    assert table.job_id.tolist() == [1]
    assert report.dropped_too_large == 2


def test_a_job_breaking_several_rules_is_counted_once_under_the_first() -> None:
    _, report = clean(trace(job(), job(run_time=0, requested_procs=999)), machine=MACHINE)
    assert (report.dropped_nonpositive_runtime, report.dropped_too_large) == (1, 0)


def test_unknown_requested_time_becomes_the_actual_run_time_and_says_so() -> None:
    jobs = trace(job(requested_time=-1), job(job_number=2, requested_time=0), job(job_number=3))
    table, report = clean(jobs, machine=MACHINE)
    assert table.req_time_s.tolist() == [100, 100, 200]
    assert report.requested_time_filled_from_actual == 2
    assert report.lines()[1] == (
        "requested time unknown (<= 0) for 2 jobs: used the actual run time instead "
        "(first: job 1 at trace.swf:1, job 2 at trace.swf:2)"
    )


def test_estimate_actual_gives_every_job_its_run_time_as_its_request() -> None:
    jobs = trace(job(requested_time=-1), job(job_number=2, run_time=500))
    table, report = clean(jobs, machine=MACHINE, estimate=Estimate.ACTUAL)
    assert table.req_time_s.tolist() == [100, 500]
    assert (report.requested_time_filled_from_actual, report.runtime_exceeds_request) == (0, 0)
    assert "estimate=actual: each job's requested time is its actual run time" in report.lines()


def test_jobs_that_ran_past_their_request_are_kept_with_their_request() -> None:
    table, report = clean(trace(job(run_time=300, requested_time=200)), machine=MACHINE)
    assert (table.run_s.tolist(), table.req_time_s.tolist()) == ([300], [200])
    assert report.runtime_exceeds_request == 1
    assert report.lines()[1] == (
        "1 job ran longer than requested: kept; the simulator kills them at the limit "
        "(first: job 1 at trace.swf:1)"
    )


def test_output_is_in_submit_order_and_ties_keep_file_order() -> None:
    jobs = trace(
        job(job_number=0, submit_time=50),
        job(job_number=2, submit_time=10),
        job(job_number=1, submit_time=10),
        job(job_number=3, submit_time=60),
    )
    table, report = clean(jobs, machine=MACHINE)
    assert table.job_id.tolist() == [2, 1, 0, 3]
    assert table.submit_s.tolist() == [10, 10, 50, 60]  # as in the trace: not shifted to 0
    assert report.out_of_submit_order == 2
    assert report.examples["out_of_submit_order"] == [JobRef(2, 2), JobRef(1, 3)]


def test_the_report_names_at_most_five_jobs_per_finding() -> None:
    jobs = trace(job(), *(job(job_number=n, run_time=0) for n in range(2, 9)))
    _, report = clean(jobs, machine=MACHINE)
    assert report.summary().splitlines()[1] == (
        "dropped 7 jobs with run time <= 0 (first: job 2 at trace.swf:2, job 3 at trace.swf:3, "
        "job 4 at trace.swf:4, job 5 at trace.swf:5, job 6 at trace.swf:6, ...)"
    )


def test_nothing_left_to_simulate_is_an_error_that_says_why() -> None:
    with pytest.raises(WorkloadError) as caught:
        clean(trace(job(run_time=0)), machine=MACHINE)
    assert str(caught.value) == (
        "trace.swf: no job can be simulated on 64 processors: "
        "dropped 1 job with run time <= 0 (first: job 1 at trace.swf:1)"
    )


def test_machine_comes_from_max_procs_else_max_nodes() -> None:
    both = trace(job(), header="; MaxNodes: 24\n; MaxProcs: 1728\n")
    assert machine_for(both) == Machine.procs_only(1728)
    assert machine_for(trace(job(), header="; MaxNodes: 256\n")) == Machine.procs_only(256)


def test_options_override_the_header() -> None:
    header = trace(job(), header="; MaxProcs: 240\n")
    assert machine_for(header, procs=100) == Machine.procs_only(100)
    assert machine_for(header, nodes=10, cores_per_node=8) == Machine.cluster(10, 8)
    # Either half of nodes x cores may come from MaxProcs.
    assert machine_for(header, cores_per_node=2) == Machine.cluster(120, 2)
    assert machine_for(header, nodes=24) == Machine.cluster(24, 10)


def test_unknown_machine_size_tells_the_user_what_to_pass() -> None:
    with pytest.raises(WorkloadError) as caught:
        machine_for(trace(job()))
    assert str(caught.value) == (
        "trace.swf: the header gives neither MaxProcs nor MaxNodes, so the machine size is "
        "unknown; pass --procs N (or --nodes N --cores-per-node C)"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"procs": 0}, "--procs must be a positive number, got 0"),
        ({"nodes": -2}, "--nodes must be a positive number, got -2"),
        ({"procs": 8, "nodes": 2}, "give either --procs or --nodes/--cores-per-node, not both"),
        (
            {"nodes": 7},
            "trace.swf: MaxProcs 240 is not a multiple of 7, so --cores-per-node cannot be "
            "worked out from the header; pass --cores-per-node too",
        ),
    ],
)
def test_impossible_machine_options_are_refused(options: dict[str, int], message: str) -> None:
    with pytest.raises(WorkloadError) as caught:
        machine_for(trace(job(), header="; MaxProcs: 240\n"), **options)
    assert str(caught.value) == message

"""From a file name and options to something to simulate: read, pick the machine, clean."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from hpc.model import JobTable, Machine
from hpc.workload.cleaning import CleaningReport, Estimate, clean, machine_for
from hpc.workload.swf import read_swf
from hpc.workload.trace import SwfTrace


@dataclass(slots=True)
class LoadedWorkload:
    """A trace with the machine it will run on, its cleaned jobs, and what cleaning did."""

    trace: SwfTrace
    machine: Machine
    jobs: JobTable
    report: CleaningReport

    def report_lines(self) -> list[str]:
        """Everything the user should know about how the input was read and cleaned."""
        lines: list[str] = []
        if self.trace.skipped_count:
            lines.append(
                f"skipped {self.trace.skipped_count} malformed lines (--skip-bad); first: "
                + "; ".join(self.trace.skipped)
            )
        return lines + self.report.lines()


def load_workload(
    path: str | Path,
    *,
    procs: int | None = None,
    nodes: int | None = None,
    cores_per_node: int | None = None,
    mem_per_node_mb: int | None = None,
    estimate: Estimate = Estimate.REQUESTED,
    skip_bad: bool = False,
) -> LoadedWorkload:
    """Read an SWF file and clean it for the machine given (or the one its header names)."""
    trace = read_swf(path, skip_bad=skip_bad)
    return prepare_workload(
        trace, procs=procs, nodes=nodes, cores_per_node=cores_per_node,
        mem_per_node_mb=mem_per_node_mb, estimate=estimate,
    )  # fmt: skip


def prepare_workload(
    trace: SwfTrace,
    *,
    procs: int | None = None,
    nodes: int | None = None,
    cores_per_node: int | None = None,
    mem_per_node_mb: int | None = None,
    estimate: Estimate = Estimate.REQUESTED,
) -> LoadedWorkload:
    """Clean a trace already read (a file's, or one stored in the database) for a machine."""
    machine = machine_for(trace, procs=procs, nodes=nodes, cores_per_node=cores_per_node)
    if mem_per_node_mb is not None:
        machine = dataclasses.replace(machine, mem_per_node_mb=mem_per_node_mb)
    jobs, report = clean(trace, machine=machine, estimate=estimate)
    return LoadedWorkload(trace, machine, jobs, report)

"""Turn an `SwfTrace` into a `JobTable` to simulate, explaining every job it drops or changes.

Cleaning is explicit: each rule is counted in a `CleaningReport` with the first jobs it hit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import PurePath

import numpy as np
import numpy.typing as npt

from hpc.errors import WorkloadError
from hpc.model import IntArray, JobTable, Machine
from hpc.workload.trace import SwfTrace

MAX_EXAMPLES = 5  # jobs named per rule in the report
BoolArray = npt.NDArray[np.bool_]


class Estimate(Enum):
    """What the scheduler is told a job will take (its requested time limit)."""

    REQUESTED = "requested"  # the user's request (field 9); the actual run time where unknown
    ACTUAL = "actual"  # the actual run time (field 4): perfect estimates


@dataclass(frozen=True, slots=True)
class JobRef:
    """A job named in a report: its SWF job number and the file line it came from."""

    job_id: int
    line: int


# Each count of the report and how its line reads, in report order (the drop rules first,
# in the order `clean` checks them).
_FINDINGS = {
    "dropped_unknown_submit": "dropped {jobs} with an unknown submit time (-1)",
    "dropped_nonpositive_runtime": "dropped {jobs} with run time <= 0",
    "dropped_nonpositive_size": "dropped {jobs} with no size (requested and allocated procs <= 0)",
    "dropped_too_large": "dropped {jobs} larger than the machine ({machine})",
    "out_of_submit_order": "sorted {jobs} into submit order (listed after later submissions)",
    "requested_time_filled_from_actual": (
        "requested time unknown (<= 0) for {jobs}: used the actual run time instead"
    ),
    "runtime_exceeds_request": (
        "{jobs} ran longer than requested: kept; the simulator kills them at the limit"
    ),
}


@dataclass(slots=True)
class CleaningReport:
    """What `clean` did to a trace. `examples` maps a count's name to the first jobs it counts."""

    source: str
    machine: str  # `Machine.describe()`
    estimate: Estimate
    total: int
    kept: int = 0
    dropped_unknown_submit: int = 0
    dropped_nonpositive_runtime: int = 0
    dropped_nonpositive_size: int = 0
    dropped_too_large: int = 0
    requested_time_filled_from_actual: int = 0  # kept jobs whose request was <= 0 (unknown)
    runtime_exceeds_request: int = 0  # kept jobs that ran past their request (killed at it)
    out_of_submit_order: int = 0  # kept jobs listed after a job submitted later (re-sorted)
    examples: dict[str, list[JobRef]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """Plain data for storage and JSON: counts, first examples, and the report's lines."""
        out: dict[str, object] = {
            name: getattr(self, name) for name in self.__dataclass_fields__ if name != "examples"
        }
        out["estimate"] = self.estimate.value
        out["examples"] = {k: [[r.job_id, r.line] for r in v] for k, v in self.examples.items()}
        out["lines"] = self.lines()
        return out

    @property
    def dropped(self) -> int:
        return self.total - self.kept

    def lines(self) -> list[str]:
        """The report for people, one finding per line; rules that hit no job are left out."""
        out = [f"{self.source}: {_jobs(self.total)} read, {self.kept:,} kept ({self.machine})"]
        if self.estimate is Estimate.ACTUAL:
            out.append("estimate=actual: each job's requested time is its actual run time")
        for name, template in _FINDINGS.items():
            count: int = getattr(self, name)
            if count == 0:
                continue
            # The first line names the source in full; the file name is enough to find a job.
            where = PurePath(self.source).name
            refs = [f"job {r.job_id} at {where}:{r.line}" for r in self.examples.get(name, [])]
            more = ", ..." if count > len(refs) else ""
            first = f" (first: {', '.join(refs)}{more})" if refs else ""
            out.append(template.format(jobs=_jobs(count), machine=self.machine) + first)
        return out

    def summary(self) -> str:
        return "\n".join(self.lines())


def clean(
    trace: SwfTrace, *, machine: Machine, estimate: Estimate = Estimate.REQUESTED
) -> tuple[JobTable, CleaningReport]:
    """Jobs of `trace` that can run on `machine`, in submit order, and what was done to get them.

    A job's size is its requested processors (field 8), or its allocated processors (field 5)
    where the request is unknown: the request is what a scheduler sees at submit time. Submit
    times are kept as in the trace (seconds since the log started).
    """
    report = CleaningReport(trace.source, machine.describe(), estimate, total=len(trace))
    job_id = _ints(trace, "job_number")
    submit = _ints(trace, "submit_time")
    run = _ints(trace, "run_time")
    requested_procs = _ints(trace, "requested_procs")
    procs = np.where(requested_procs > 0, requested_procs, _ints(trace, "allocated_procs"))
    req_mem_kb = _ints(trace, "requested_memory")

    def note(name: str, hit: BoolArray) -> None:
        rows = np.flatnonzero(hit)
        setattr(report, name, len(rows))
        first = rows[:MAX_EXAMPLES]
        refs = zip(job_id[first].tolist(), trace.line_numbers[first].tolist(), strict=True)
        report.examples[name] = [JobRef(job, line) for job, line in refs]

    drops: dict[str, BoolArray] = {
        "dropped_unknown_submit": submit < 0,
        "dropped_nonpositive_runtime": run <= 0,
        "dropped_nonpositive_size": procs <= 0,
        # Sizes <= 0 are dropped just above; clamp them so units_for sees only real sizes.
        "dropped_too_large": machine.units_for(np.maximum(procs, 1), req_mem_kb) > machine.units,
    }
    keep = np.ones(len(trace), dtype=np.bool_)
    for name, broken in drops.items():
        note(name, keep & broken)
        keep &= ~broken
    report.kept = int(keep.sum())
    if report.kept == 0:
        findings = "; ".join(report.lines()[1:])
        raise WorkloadError(
            f"{trace.source}: no job can be simulated on {report.machine}: {findings}"
        )

    requested = _ints(trace, "requested_time")
    if estimate is Estimate.ACTUAL:
        req_time = run
    else:
        unknown = requested <= 0
        req_time = np.where(unknown, run, requested)
        note("requested_time_filled_from_actual", keep & unknown)
        note("runtime_exceeds_request", keep & ~unknown & (run > requested))

    kept = np.flatnonzero(keep)
    late = np.zeros(len(trace), dtype=np.bool_)
    late[kept] = submit[kept] < np.maximum.accumulate(submit[kept])
    note("out_of_submit_order", late)
    order = kept[np.argsort(submit[kept], kind="stable")]
    table = JobTable(
        job_id=job_id[order],
        submit_s=submit[order],
        run_s=run[order],
        procs=procs[order],
        req_time_s=req_time[order],
        user=_ints(trace, "user_id")[order],
        group=_ints(trace, "group_id")[order],
        queue=_ints(trace, "queue")[order],
        partition=_ints(trace, "partition")[order],
        req_mem_kb=req_mem_kb[order],
    )
    return table, report


def machine_for(
    trace: SwfTrace,
    *,
    procs: int | None = None,
    nodes: int | None = None,
    cores_per_node: int | None = None,
) -> Machine:
    """The machine to simulate: from the options given, else from the trace header.

    `procs` gives a processors-only machine; `nodes`/`cores_per_node` a cluster allocated in
    whole nodes (either may be left out when the header's MaxProcs makes up the other).
    Without options: MaxProcs, else MaxNodes, processors.
    """
    options = {"--procs": procs, "--nodes": nodes, "--cores-per-node": cores_per_node}
    for option, value in options.items():
        if value is not None and value <= 0:
            raise WorkloadError(f"{option} must be a positive number, got {value}")
    if procs is not None:
        if nodes is not None or cores_per_node is not None:
            raise WorkloadError("give either --procs or --nodes/--cores-per-node, not both")
        return Machine.procs_only(procs)
    if nodes is not None and cores_per_node is not None:
        return Machine.cluster(nodes, cores_per_node)
    header_procs = trace.header.machine_procs()
    if header_procs is None or header_procs <= 0:
        raise WorkloadError(
            f"{trace.source}: the header gives neither MaxProcs nor MaxNodes, so the machine "
            "size is unknown; pass --procs N (or --nodes N --cores-per-node C)"
        )
    if nodes is not None:
        return Machine.cluster(nodes, _share(header_procs, nodes, "--cores-per-node", trace))
    if cores_per_node is not None:
        return Machine.cluster(
            _share(header_procs, cores_per_node, "--nodes", trace), cores_per_node
        )
    return Machine.procs_only(header_procs)


def _share(header_procs: int, given: int, missing: str, trace: SwfTrace) -> int:
    """The other factor of MaxProcs = nodes x cores per node, when it divides evenly."""
    if header_procs % given != 0:
        raise WorkloadError(
            f"{trace.source}: MaxProcs {header_procs} is not a multiple of {given}, so "
            f"{missing} cannot be worked out from the header; pass {missing} too"
        )
    return header_procs // given


def _ints(trace: SwfTrace, name: str) -> IntArray:
    # Integer fields were checked to hold whole numbers when the trace was read.
    return trace.column(name).astype(np.int64)


def _jobs(count: int) -> str:
    return f"{count:,} job" if count == 1 else f"{count:,} jobs"

"""Jobs and machines as the simulator sees them.

A `JobTable` holds a workload as columns (one numpy array per attribute) so that a
million-job replay stays small and fast; `Job` is the row view for people and APIs.
Times are integer seconds since the start of the trace unless a name says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import numpy.typing as npt

from hpc.errors import SimulationError

IntArray = npt.NDArray[np.int64]


class JobState(Enum):
    """Where a job is in its life in the simulator (and, later, on a real cluster)."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    TIMEOUT = "timeout"  # killed at its requested time limit
    NODE_FAIL = "node_fail"  # killed because its nodes failed


@dataclass(frozen=True, slots=True)
class Job:
    """One job. `procs` is the processor (core) count it asked for."""

    job_id: int
    submit_s: int
    run_s: int
    procs: int
    req_time_s: int
    user: int = -1
    group: int = -1
    queue: int = -1
    partition: int = -1
    req_mem_kb: int = -1  # per processor, as in SWF


@dataclass(slots=True)
class JobTable:
    """A workload ready to simulate: every column has one entry per job, in submit order.

    `req_time_s` is the estimate the scheduler sees (never -1 here: cleaning chose it);
    `run_s` is the actual runtime, known only to the simulator's engine.
    """

    job_id: IntArray
    submit_s: IntArray
    run_s: IntArray
    procs: IntArray
    req_time_s: IntArray
    user: IntArray
    group: IntArray
    queue: IntArray
    partition: IntArray
    req_mem_kb: IntArray

    def __post_init__(self) -> None:
        n = len(self.job_id)
        for name in self.__slots__:
            column = getattr(self, name)
            if len(column) != n:
                raise ValueError(f"JobTable column {name} has {len(column)} rows, expected {n}")
        if n > 1 and bool(np.any(np.diff(self.submit_s) < 0)):
            raise ValueError("JobTable must be in submit order (sort by submit_s, stable)")

    def __len__(self) -> int:
        return len(self.job_id)

    def job(self, index: int) -> Job:
        """The row at `index` as a `Job`."""
        return Job(*(int(getattr(self, name)[index]) for name in self.__slots__))

    @classmethod
    def from_jobs(cls, jobs: list[Job]) -> JobTable:
        """Build a table from rows, sorting them by submit time (stable)."""
        ordered = sorted(jobs, key=lambda j: j.submit_s)
        columns = {
            name: np.array([getattr(j, name) for j in ordered], dtype=np.int64)
            for name in cls.__slots__
        }
        return cls(**columns)

    def take(self, index: IntArray | slice) -> JobTable:
        """A sub-table (rows selected by index array or slice), still in submit order."""
        return JobTable(**{name: getattr(self, name)[index] for name in self.__slots__})


@dataclass(frozen=True, slots=True)
class Machine:
    """What the simulated jobs run on.

    Either processors only (`nodes` processors of one core each: `Machine.procs_only(n)`)
    or `nodes` x `cores_per_node`, allocated whole nodes at a time as on most HPC systems
    (a job of p processors takes ceil(p / cores_per_node) nodes; memory and GPUs per node,
    where given, can raise that count). The simulator counts allocation units: processors
    for a processors-only machine, nodes otherwise.
    """

    nodes: int
    cores_per_node: int = 1
    gpus_per_node: int = 0
    mem_per_node_mb: int | None = None
    node_exclusive: bool = False  # True: units are nodes; False: units are processors

    def __post_init__(self) -> None:
        if self.nodes <= 0:
            raise SimulationError(f"machine needs at least one node, got {self.nodes}")
        if self.cores_per_node <= 0:
            raise SimulationError(f"cores per node must be positive, got {self.cores_per_node}")
        if self.gpus_per_node < 0:
            raise SimulationError(f"GPUs per node cannot be negative, got {self.gpus_per_node}")
        if self.mem_per_node_mb is not None and self.mem_per_node_mb <= 0:
            raise SimulationError(f"memory per node must be positive, got {self.mem_per_node_mb}")

    @classmethod
    def procs_only(cls, procs: int) -> Machine:
        """A machine of `procs` interchangeable processors (the SWF view)."""
        return cls(nodes=procs, cores_per_node=1, node_exclusive=False)

    @classmethod
    def cluster(
        cls,
        nodes: int,
        cores_per_node: int,
        *,
        gpus_per_node: int = 0,
        mem_per_node_mb: int | None = None,
    ) -> Machine:
        """`nodes` x `cores_per_node`, whole nodes allocated to each job."""
        return cls(nodes, cores_per_node, gpus_per_node, mem_per_node_mb, node_exclusive=True)

    @property
    def total_procs(self) -> int:
        return self.nodes * self.cores_per_node

    @property
    def units(self) -> int:
        """Allocation units the simulator counts: nodes if node-exclusive, else processors."""
        return self.nodes if self.node_exclusive else self.total_procs

    def units_for(self, procs: IntArray, req_mem_kb: IntArray | None = None) -> IntArray:
        """Allocation units each job needs (vectorized over jobs)."""
        if not self.node_exclusive:
            return procs.astype(np.int64)
        units = -(-procs // self.cores_per_node)
        if self.mem_per_node_mb is not None and req_mem_kb is not None:
            known = req_mem_kb > 0
            mem_mb = np.where(known, procs * np.maximum(req_mem_kb, 0), 0) / 1024.0
            by_mem = np.ceil(mem_mb / self.mem_per_node_mb).astype(np.int64)
            units = np.maximum(units, by_mem)
        return np.maximum(units, 1).astype(np.int64)

    def describe(self) -> str:
        if not self.node_exclusive:
            return f"{self.total_procs} processors"
        extra = f", {self.gpus_per_node} GPUs" if self.gpus_per_node else ""
        mem = f", {self.mem_per_node_mb} MB" if self.mem_per_node_mb else ""
        return f"{self.nodes} nodes x {self.cores_per_node} cores{extra}{mem} per node"

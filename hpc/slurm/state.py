"""A live Slurm cluster as schedsight sees it: nodes, partitions, and the jobs in the queue.

Every backend turns its own answers into these types. Times are integer seconds since the
Unix epoch (None where Slurm has none yet); memory is in MB.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from hpc.model import Machine
from hpc.slurm.errors import SlurmError
from hpc.slurm.reasons import pending_reason_text

# Slurm states in which a job no longer runs and never will again.
FINISHED_STATES = frozenset(
    {
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "TIMEOUT",
        "NODE_FAIL",
        "PREEMPTED",
        "BOOT_FAIL",
        "DEADLINE",
        "OUT_OF_MEMORY",
    }
)


@dataclass(frozen=True, slots=True)
class Node:
    """One node. `state` is Slurm's base state (idle, mixed, allocated, down, ...)."""

    name: str
    state: str
    cpus: int
    alloc_cpus: int
    mem_mb: int
    alloc_mem_mb: int
    gpus: int = 0
    gpus_used: int = 0
    gpu_type: str | None = None
    partitions: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()  # DRAIN, ...
    reason: str = ""

    @property
    def available(self) -> bool:
        """Can take new work: not down, not drained, not failing."""
        bad = {"DOWN", "DRAIN", "DRAINED", "DRAINING", "FAIL", "NOT_RESPONDING", "MAINTENANCE"}
        return self.state.upper() not in {"DOWN", "FAIL", "UNKNOWN"} and not (
            bad & {f.upper() for f in self.flags}
        )

    @property
    def label(self) -> str:
        return "+".join([self.state.lower(), *(f.lower() for f in self.flags)])


@dataclass(frozen=True, slots=True)
class Partition:
    name: str
    nodes: tuple[str, ...]
    max_time_s: int | None  # None: no limit
    default: bool = False
    state: str = "UP"


@dataclass(frozen=True, slots=True)
class LiveJob:
    """A job the controller knows about (pending, running, or recently finished).

    `comment` is the user's comment without schedsight's client token, which is in `token`.
    `start_s` is the actual start for a started job, and Slurm's planned start for a pending
    one when the scheduler has computed it (None otherwise). `exit_code` is the exit status
    (0-255) of a finished job, None while unknown; `signal` the signal that killed it.
    """

    job_id: int
    name: str
    user: str
    account: str
    partition: str
    state: str  # Slurm's state: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, ...
    reason: str  # Slurm's reason code: Priority, Resources, JobHeldUser, ...
    submit_s: int
    eligible_s: int | None = None
    start_s: int | None = None
    end_s: int | None = None
    time_limit_s: int | None = None
    cpus: int = 1
    node_count: int = 1
    node_list: str = ""
    gpus: int = 0
    priority: int = 0
    nice: int = 0
    dependency: str = ""
    comment: str = ""
    token: str | None = None
    array_job_id: int | None = None
    array_task_id: int | None = None
    exit_code: int | None = None
    signal: int | None = None

    @property
    def pending(self) -> bool:
        return self.state == "PENDING"

    @property
    def running(self) -> bool:
        return self.state in ("RUNNING", "COMPLETING", "CONFIGURING")

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def held(self) -> bool:
        return self.pending and self.reason in ("JobHeldUser", "JobHeldAdmin")

    @property
    def reason_text(self) -> str:
        """Why a pending job waits, in plain words."""
        return pending_reason_text(self.reason) if self.pending else ""

    @property
    def display_id(self) -> str:
        """`1234` or, for an array task, `1230_4` as squeue shows it."""
        if self.array_job_id and self.array_task_id is not None:
            return f"{self.array_job_id}_{self.array_task_id}"
        return str(self.job_id)


@dataclass(frozen=True, slots=True)
class ClusterState:
    """One snapshot of a cluster, read through one backend."""

    cluster: str
    release: str  # Slurm release, e.g. "22.05.8"
    backend: str
    nodes: tuple[Node, ...]
    partitions: tuple[Partition, ...]
    jobs: tuple[LiveJob, ...] = field(default=())

    @property
    def pending(self) -> list[LiveJob]:
        return [j for j in self.jobs if j.pending]

    @property
    def running(self) -> list[LiveJob]:
        return [j for j in self.jobs if j.running]

    def partition(self, name: str) -> Partition:
        for p in self.partitions:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.partitions)
        raise SlurmError(f"no partition {name!r} on cluster {self.cluster} (it has: {known})")

    def machine(self, partition: str | None = None) -> Machine:
        """The simulator's view of the whole cluster or one partition (its available nodes).

        Nodes may differ in size; the machine takes the most common shape, which is what the
        simulator's homogeneous model can hold.
        """
        names = set(self.partition(partition).nodes) if partition else None
        nodes = [n for n in self.nodes if (names is None or n.name in names) and n.available]
        if not nodes:
            raise SlurmError(f"no available nodes in {partition or self.cluster}")
        shape = _most_common((n.cpus, n.gpus, n.mem_mb) for n in nodes)
        return Machine.cluster(
            len(nodes), shape[0], gpus_per_node=shape[1], mem_per_node_mb=shape[2] or None
        )


def select_jobs(jobs: list[LiveJob], job_ids: Collection[int] | None) -> list[LiveJob]:
    """`jobs` whose id, or array's id, is in `job_ids` (all of them when it is None).

    Slurm 22.05 ignores job filters in `squeue --json` and the REST job list, so backends
    read the whole queue and select here.
    """
    if job_ids is None:
        return jobs
    wanted = set(job_ids)
    return [j for j in jobs if j.job_id in wanted or j.array_job_id in wanted]


def _most_common(items: Iterable[tuple[int, int, int]]) -> tuple[int, int, int]:
    counts: dict[tuple[int, int, int], int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return max(counts, key=lambda k: (counts[k], k))

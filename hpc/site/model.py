"""A Slurm site as plain typed values: node types, partitions, QOS, reservations, the
multifactor priority weights, the backfill parameters that change outcomes, and the switch
tree. What `schedsight site import` reads from a live cluster, what the site simulator
honours, and what a what-if changes.

Times are integer seconds (a reservation's are seconds since the epoch, or since the start
of a trace once the workload is aligned), memory MB. TRES limits use Slurm's names: "cpu",
"mem", "node", "gres/gpu". Every value serialises to JSON and back (`to_json`/`from_json`),
so a site is stored, versioned, and compared as data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from hpc.errors import SiteError

Tres = Mapping[str, int]  # {"cpu": 256, "gres/gpu": 8}; a missing key means no limit


@dataclass(frozen=True, slots=True)
class NodeType:
    """What a kind of node offers. Nodes with the same resources share one type."""

    name: str
    cores: int
    mem_mb: int
    gpus: int = 0
    gpu_type: str | None = None
    features: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.cores <= 0 or self.mem_mb < 0 or self.gpus < 0:
            raise SiteError(f"node type {self.name!r}: cores > 0, memory and GPUs >= 0")


@dataclass(frozen=True, slots=True)
class PartitionSpec:
    """A partition: its nodes, time limit, priority tier and job factor, allowed QOS."""

    name: str
    nodes: tuple[str, ...]
    max_time_s: int | None = None  # None: unlimited
    priority_tier: int = 1
    priority_job_factor: int = 1
    default: bool = False
    allow_qos: tuple[str, ...] = ()  # empty: every QOS
    state: str = "UP"


@dataclass(frozen=True, slots=True)
class QosSpec:
    """A QOS: its priority and limits (Slurm's MaxTRESPU, MaxTRESPA, GrpTRES, MaxWall...)."""

    name: str
    priority: int = 0
    max_wall_s: int | None = None
    max_tres_per_user: Tres = field(default_factory=dict)
    max_tres_per_account: Tres = field(default_factory=dict)
    grp_tres: Tres = field(default_factory=dict)  # the whole QOS at once
    max_jobs_per_user: int | None = None


@dataclass(frozen=True, slots=True)
class Association:
    """One node of the fair-share tree: an account (user None) or a user in an account."""

    account: str
    user: str | None = None
    parent: str | None = None  # the parent account; None for root's children
    shares: int = 1
    qos: tuple[str, ...] = ()
    default_qos: str | None = None
    # From sshare when the site was read (None: not read): the decayed usage in TRES-billing
    # seconds (CPU-seconds unless billing weights say otherwise), and the share of the
    # whole machine this association's shares give it (0 to 1).
    raw_usage: float | None = None
    norm_shares: float | None = None


@dataclass(frozen=True, slots=True)
class Reservation:
    """Nodes taken out of use over [start_s, end_s): a maintenance window, a reservation."""

    name: str
    nodes: tuple[str, ...]
    start_s: int
    end_s: int
    maintenance: bool = False

    def __post_init__(self) -> None:
        if self.end_s <= self.start_s:
            raise SiteError(f"reservation {self.name!r} ends before it starts")


@dataclass(frozen=True, slots=True)
class PriorityWeights:
    """priority/multifactor: PriorityWeight* and the decay and age settings that matter."""

    age: int = 0
    fairshare: int = 0
    job_size: int = 0
    partition: int = 0
    qos: int = 0
    tres: Tres = field(default_factory=dict)  # PriorityWeightTRES, e.g. {"gres/gpu": 1000}
    max_age_s: int = 7 * 86400
    decay_half_life_s: int = 7 * 86400
    favor_small: bool = False

    @property
    def multifactor(self) -> bool:
        return any((self.age, self.fairshare, self.job_size, self.partition, self.qos,
                    *self.tres.values()))  # fmt: skip


@dataclass(frozen=True, slots=True)
class BackfillParams:
    """sched/backfill's parameters that change who starts when (SchedulerParameters)."""

    window_s: int = 86400  # bf_window
    resolution_s: int = 60  # bf_resolution
    max_job_test: int = 500  # bf_max_job_test
    interval_s: int = 30  # bf_interval


@dataclass(frozen=True, slots=True)
class Scheduling:
    """How the controller schedules: SchedulerType, and AccountingStorageEnforce's flags.

    QOS limits (MaxTRESPerUser, GrpTRES, MaxWall, ...) hold jobs back only where `limits` (or
    `safe`, which implies it) is enforced; a site that records QOS limits without enforcing
    them runs jobs past them, and its twin must too. A made-up site enforces everything."""

    scheduler: str = "sched/backfill"  # SchedulerType
    enforce: tuple[str, ...] = ("associations", "limits", "qos")  # AccountingStorageEnforce

    @property
    def limits_enforced(self) -> bool:
        return "limits" in self.enforce or "safe" in self.enforce

    @property
    def backfills(self) -> bool:
        return self.scheduler == "sched/backfill"


@dataclass(frozen=True, slots=True)
class Switch:
    """One switch of topology.conf: its child switches and its nodes."""

    name: str
    switches: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class JobResources:
    """What one job asked of a site beyond processors (SWF has no columns for it): stored
    beside a workload imported from Slurm, read by the site replay."""

    job_number: int
    gpus: int = 0
    account: str = ""
    qos: str = ""
    nodes: int = 0  # 0: as few as fit


@dataclass(frozen=True, slots=True)
class Site:
    """A whole site. `nodes` maps each node name to its type, in Slurm's order."""

    name: str
    node_types: Mapping[str, NodeType]
    nodes: Mapping[str, str]
    partitions: tuple[PartitionSpec, ...]
    qos: Mapping[str, QosSpec] = field(default_factory=dict)
    associations: tuple[Association, ...] = ()
    reservations: tuple[Reservation, ...] = ()
    weights: PriorityWeights = field(default_factory=PriorityWeights)
    backfill: BackfillParams = field(default_factory=BackfillParams)
    switches: tuple[Switch, ...] = ()
    scheduling: Scheduling = field(default_factory=Scheduling)
    release: str = ""  # the Slurm release it was read from, "" for a made-up site
    source: str = ""

    def __post_init__(self) -> None:
        unknown = sorted({t for t in self.nodes.values() if t not in self.node_types})
        if unknown:
            raise SiteError(f"site {self.name!r}: nodes of unknown types {unknown}")
        for p in self.partitions:
            missing = [n for n in p.nodes if n not in self.nodes]
            if missing:
                raise SiteError(
                    f"site {self.name!r}: partition {p.name} names unknown nodes {missing[:5]}"
                )
        if not self.partitions:
            raise SiteError(f"site {self.name!r} has no partitions")

    # ------------------------------------------------------------ lookups
    def partition(self, name: str | None) -> PartitionSpec:
        """A partition by name; None: the default one (Slurm's, else the first)."""
        if name is None or name == "":
            return next((p for p in self.partitions if p.default), self.partitions[0])
        for p in self.partitions:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.partitions)
        raise SiteError(f"site {self.name!r} has no partition {name!r} (it has {known})")

    def node_type(self, node: str) -> NodeType:
        return self.node_types[self.nodes[node]]

    def totals(self, partition: str | None = None) -> dict[str, int]:
        """Nodes, cores, memory and GPUs of the site, or of one partition."""
        names = self.partition(partition).nodes if partition else tuple(self.nodes)
        types = [self.node_type(n) for n in names]
        return {
            "nodes": len(types),
            "cores": sum(t.cores for t in types),
            "mem_mb": sum(t.mem_mb for t in types),
            "gpus": sum(t.gpus for t in types),
        }

    def describe(self) -> list[str]:
        """One line per partition: its nodes, cores, GPUs and limits, for people."""
        lines = []
        for p in self.partitions:
            t = self.totals(p.name)
            limit = "no time limit" if p.max_time_s is None else f"max {p.max_time_s // 3600} h"
            mark = " (default)" if p.default else ""
            lines.append(
                f"{p.name}{mark}: {t['nodes']} nodes, {t['cores']} cores, {t['gpus']} GPUs, "
                f"{limit}, tier {p.priority_tier}"
            )
        return lines

    # ------------------------------------------------------------ construction
    @classmethod
    def one_partition(cls, procs: int, *, name: str = "swf") -> Site:
        """An SWF trace's machine: one partition of one node with `procs` cores, so that a
        replay under this site is the one-pool replay, job for job."""
        node = NodeType("cpu", cores=procs, mem_mb=0)
        return cls(
            name=name,
            node_types={"cpu": node},
            nodes={"n0": "cpu"},
            partitions=(PartitionSpec("all", ("n0",), default=True),),
            source="swf",
        )

    # ------------------------------------------------------------ JSON
    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Site:
        try:
            return cls(
                name=data["name"],
                node_types={k: NodeType(**_tuples(v)) for k, v in data["node_types"].items()},
                nodes=dict(data["nodes"]),
                partitions=tuple(PartitionSpec(**_tuples(p)) for p in data["partitions"]),
                qos={k: QosSpec(**v) for k, v in (data.get("qos") or {}).items()},
                associations=_many(Association, data.get("associations")),
                reservations=_many(Reservation, data.get("reservations")),
                weights=PriorityWeights(**(data.get("weights") or {})),
                backfill=BackfillParams(**(data.get("backfill") or {})),
                switches=_many(Switch, data.get("switches")),
                scheduling=Scheduling(**_tuples(data.get("scheduling") or {})),
                release=data.get("release", ""),
                source=data.get("source", ""),
            )
        except (KeyError, TypeError) as exc:
            raise SiteError(f"not a stored site: {exc}") from exc


def _many(kind: Any, items: Any) -> tuple[Any, ...]:
    return tuple(kind(**_tuples(item)) for item in items or ())


def _tuples(values: Mapping[str, Any]) -> dict[str, Any]:
    """JSON lists back into the tuples the frozen types hold."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}

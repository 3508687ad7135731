"""SQLAlchemy 2 typed models: clusters, workloads and jobs, scenarios, runs, predictions,
agent decisions, the append-only audit log and versioned sites. Every schema change gets an
Alembic revision.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

JsonType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JsonType, list[Any]: JsonType}


def _enum(kind: type[enum.Enum]) -> Enum:
    # Stored as plain strings with a CHECK, the same on SQLite and PostgreSQL.
    return Enum(kind, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


class RunStatus(enum.Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class DecisionStatus(enum.Enum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    APPLIED = "applied"
    FAILED = "failed"


class Cluster(Base):
    __tablename__ = "clusters"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    source: Mapped[str] = mapped_column(String(32))  # "simulated" or a Slurm backend name
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    partitions: Mapped[list[Partition]] = relationship(back_populates="cluster")
    nodes: Mapped[list[Node]] = relationship(back_populates="cluster")


class Partition(Base):
    __tablename__ = "partitions"
    __table_args__ = (UniqueConstraint("cluster_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    max_time_s: Mapped[int | None] = mapped_column(BigInteger)
    cluster: Mapped[Cluster] = relationship(back_populates="partitions")


class Node(Base):
    __tablename__ = "nodes"
    __table_args__ = (UniqueConstraint("cluster_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    cores: Mapped[int] = mapped_column(Integer)
    gpus: Mapped[int] = mapped_column(Integer, default=0)
    mem_mb: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(32), default="idle")
    partitions: Mapped[list[str]] = mapped_column(JsonType, default=list)
    cluster: Mapped[Cluster] = relationship(back_populates="nodes")


class Workload(Base):
    """A trace stored whole: its header, its records, and how it was read and cleaned."""

    __tablename__ = "workloads"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    source: Mapped[str] = mapped_column(Text)
    checksum: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of header + records
    job_count: Mapped[int] = mapped_column(Integer)
    header: Mapped[dict[str, Any]] = mapped_column()
    read_report: Mapped[list[Any]] = mapped_column()  # malformed lines skipped on import
    cleaning_report: Mapped[dict[str, Any]] = mapped_column()  # on the header's machine
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WorkloadJob(Base):
    """One SWF record, all 18 fields, in file order (`idx`) with its line number."""

    __tablename__ = "workload_jobs"

    workload_id: Mapped[int] = mapped_column(
        ForeignKey("workloads.id", ondelete="CASCADE"), primary_key=True
    )
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    line: Mapped[int] = mapped_column(Integer)
    job_number: Mapped[int] = mapped_column(BigInteger)
    submit_time: Mapped[int] = mapped_column(BigInteger)
    wait_time: Mapped[int] = mapped_column(BigInteger)
    run_time: Mapped[int] = mapped_column(BigInteger)
    allocated_procs: Mapped[int] = mapped_column(BigInteger)
    avg_cpu_time: Mapped[float] = mapped_column(Float)
    used_memory: Mapped[float] = mapped_column(Float)
    requested_procs: Mapped[int] = mapped_column(BigInteger)
    requested_time: Mapped[int] = mapped_column(BigInteger)
    requested_memory: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    group_id: Mapped[int] = mapped_column(BigInteger)
    executable: Mapped[int] = mapped_column(BigInteger)
    queue: Mapped[int] = mapped_column(BigInteger)
    partition: Mapped[int] = mapped_column(BigInteger)
    preceding_job: Mapped[int] = mapped_column(BigInteger)
    think_time: Mapped[int] = mapped_column(BigInteger)


class Scenario(Base):
    """A workload, a machine, a policy and what-if changes: everything a replay depends on."""

    __tablename__ = "scenarios"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the canonical spec
    workload_id: Mapped[int] = mapped_column(
        ForeignKey("workloads.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(256))
    policy: Mapped[str] = mapped_column(String(64))  # "order:backfill"
    spec: Mapped[dict[str, Any]] = mapped_column()  # machine, weights, estimate, changes, ...
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    workload: Mapped[Workload] = relationship()
    runs: Mapped[list[SimulationRun]] = relationship(back_populates="scenario")


class SimulationRun(Base):
    __tablename__ = "simulation_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(
        ForeignKey("scenarios.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[RunStatus] = mapped_column(_enum(RunStatus))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sim_wall_s: Mapped[float | None] = mapped_column(Float)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    per_user: Mapped[list[Any] | None] = mapped_column(JsonType)
    per_partition: Mapped[list[Any] | None] = mapped_column(JsonType)
    cleaning_report: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    schedule: Mapped[bytes | None] = mapped_column(LargeBinary)  # zlib'd int64 starts + ends
    # Who runs it, so that a run whose process died (kill -9, a lost machine) can be told
    # from one still going: see db.heartbeat. Null on rows older than revision 0003.
    owner_host: Mapped[str | None] = mapped_column(String(255))
    owner_pid: Mapped[int | None] = mapped_column(Integer)
    owner_instance: Mapped[str | None] = mapped_column(String(128))  # boot id + pid namespace
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    scenario: Mapped[Scenario] = relationship(back_populates="runs")


class Prediction(Base):
    __tablename__ = "predictions"
    __table_args__ = (Index("ix_predictions_cluster_job", "cluster", "job_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))  # "start" or "runtime"
    model: Mapped[str] = mapped_column(String(128))
    job_ref: Mapped[str] = mapped_column(
        String(128), index=True
    )  # Slurm job id or workload:job number
    workload_id: Mapped[int | None] = mapped_column(ForeignKey("workloads.id", ondelete="SET NULL"))
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("clusters.id", ondelete="SET NULL"))
    p10_s: Mapped[float | None] = mapped_column(Float)  # None: a median only (`slurm status`)
    p50_s: Mapped[float] = mapped_column(Float)
    p90_s: Mapped[float | None] = mapped_column(Float)
    actual_s: Mapped[float | None] = mapped_column(Float)
    explanation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # A live job's start (kind "live-start", times in seconds since the epoch): which job,
    # when and by what it was asked, and the other estimates beside the model's (revision 0007).
    cluster: Mapped[str | None] = mapped_column(String(128))
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    partition: Mapped[str | None] = mapped_column(String(128))
    asked_by: Mapped[str | None] = mapped_column(String(16))  # "when", "api", "status", "dashboard"
    made_s: Mapped[int | None] = mapped_column(BigInteger)
    likely_from_s: Mapped[float | None] = mapped_column(Float)
    likely_to_s: Mapped[float | None] = mapped_column(Float)
    likely_chance: Mapped[float | None] = mapped_column(Float)  # the window's stated chance
    plan_start_s: Mapped[float | None] = mapped_column(Float)  # the twin's forward plan
    slurm_start_s: Mapped[float | None] = mapped_column(Float)  # Slurm's own planned start
    model_id: Mapped[int | None] = mapped_column(
        ForeignKey("trained_models.id", ondelete="SET NULL", name="fk_predictions_model_id")
    )


class AgentDecision(Base):
    __tablename__ = "agent_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    question: Mapped[str] = mapped_column(Text)
    proposal: Mapped[dict[str, Any]] = mapped_column()
    rationale: Mapped[str] = mapped_column(Text)
    objectives: Mapped[dict[str, Any]] = mapped_column()  # the objectives traded, with values
    guard_verdict: Mapped[str] = mapped_column(String(32))  # "accepted" or "rejected"
    guard_reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[DecisionStatus] = mapped_column(_enum(DecisionStatus))
    approved_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    scenario_id: Mapped[int | None] = mapped_column(ForeignKey("scenarios.id", ondelete="SET NULL"))


class AuditEntry(Base):
    """One action sent to Slurm. Append-only: the migrations add triggers that refuse changes
    (and, on SQLite, REPLACE INTO over an existing id)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(256))
    params: Mapped[dict[str, Any]] = mapped_column()
    backend: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(32))  # "ok" or "error"
    detail: Mapped[str | None] = mapped_column(Text)
    decision_id: Mapped[int | None] = mapped_column(
        ForeignKey("agent_decisions.id", ondelete="RESTRICT")
    )


class OffloadRunRow(Base):
    """One OpenMP offload workload run on Slurm (`schedsight offload run`): what ran, where
    its target regions executed, how long it took and whether its output checked out."""

    __tablename__ = "offload_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    name: Mapped[str] = mapped_column(String(128), index=True)  # example or program name
    runtime: Mapped[str] = mapped_column(String(32))  # gcc-openmp, clang-openmp, diomp
    policy: Mapped[str] = mapped_column(String(16))  # OMP_TARGET_OFFLOAD: default, mandatory, ...
    ranks: Mapped[int] = mapped_column(Integer)
    nodes: Mapped[int] = mapped_column(Integer)
    gpus_per_rank: Mapped[int] = mapped_column(Integer)
    cluster: Mapped[str] = mapped_column(String(128))
    slurm_job_id: Mapped[int] = mapped_column(BigInteger, index=True)
    state: Mapped[str] = mapped_column(String(32))  # Slurm's final state
    exit_code: Mapped[int | None] = mapped_column(Integer)
    device: Mapped[str] = mapped_column(String(16))  # gpu, host (fallback), mixed, unknown
    elapsed_s: Mapped[int | None] = mapped_column(Integer)  # Slurm start to end
    kernel_s: Mapped[float | None] = mapped_column(Float)  # the program's offloaded part
    check_ok: Mapped[bool | None] = mapped_column()
    check_detail: Mapped[str] = mapped_column(Text)
    spec: Mapped[dict[str, Any]] = mapped_column()  # args, env, partition, workdir, ...


class SiteRow(Base):
    """One version of a site (`hpc.site.model.Site`) as read from Slurm: a new version of a
    name each time its data differs from the latest (`db.sites`)."""

    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    source: Mapped[str] = mapped_column(String(256))  # "slurm:CLUSTER:cli"
    release: Mapped[str] = mapped_column(String(64))  # the Slurm release, "" if made up
    # Plain JSON, not JSONB, on PostgreSQL too: JSONB reorders an object's keys, and a
    # site's nodes are in Slurm's order.
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class WorkloadJobResources(Base):
    """What a job imported from Slurm asked for beyond SWF's columns: GPUs, its account and
    QOS (names), and its node count (0: unknown). One row per job of such a workload."""

    __tablename__ = "workload_job_resources"

    workload_id: Mapped[int] = mapped_column(
        ForeignKey("workloads.id", ondelete="CASCADE"), primary_key=True
    )
    job_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    gpus: Mapped[int] = mapped_column(Integer, default=0)
    account: Mapped[str] = mapped_column(String(128), default="")
    qos: Mapped[str] = mapped_column(String(128), default="")
    nodes: Mapped[int] = mapped_column(Integer, default=0)


class TrainedModel(Base):
    """A trained start-time predictor (`hpc.predict.saved` bytes), keyed by what it learned
    from: the history's digest, the feature version and the training parameters. `lineage`
    names the workload across its versions, so newer history can continue its trees."""

    __tablename__ = "trained_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # sha256, see db.trained
    lineage: Mapped[str] = mapped_column(String(256), index=True)  # "trace:NAME", "workload:NAME"
    workload_id: Mapped[int | None] = mapped_column(ForeignKey("workloads.id", ondelete="SET NULL"))
    history: Mapped[str] = mapped_column(String(64))  # hpc.predict.saved.history_digest
    feature_version: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column()  # tree, calibration, chance, train share
    job_count: Mapped[int] = mapped_column(Integer)
    train_rows: Mapped[int] = mapped_column(Integer)
    base_id: Mapped[int | None] = mapped_column(
        ForeignKey("trained_models.id", ondelete="SET NULL")
    )  # the model whose trees this one continued
    refreshes: Mapped[int] = mapped_column(Integer, default=0)  # continuations since a fresh start
    train_s: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    blob: Mapped[bytes] = mapped_column(LargeBinary)

"""The API's bodies as Pydantic models: what each route answers (and the OpenAPI document
says), and the what-if question. Times are seconds since the Unix epoch."""

from __future__ import annotations

from pydantic import BaseModel, Field

from hpc.sim.site_engine import PartitionRow


class ErrorBody(BaseModel):
    detail: str = Field(description="what failed and what to do")


class PredictedStart(BaseModel):
    """The start-time model's answer."""

    likely_from_s: int = Field(description="the most likely start window opens")
    likely_to_s: int = Field(description="... and closes")
    likely_chance: float = Field(ge=0, le=1, description="the window's predicted chance")
    p10_s: int
    p50_s: int = Field(description="the median start")
    p90_s: int


class PlannedStartBody(BaseModel):
    """The twin's forward plan of the live queue."""

    start_s: int | None = Field(description="None: it cannot start on what is up now")
    nodes: list[str]
    method: str = Field(description="`site twin NAME` or `one-pool plan of PARTITION`")


class Driver(BaseModel):
    feature: str
    value: float | None = Field(description="the job's value of it; None: unknown")
    effect_s: int = Field(description="added to (negative: taken off) the predicted wait")


class Why(BaseModel):
    sentence: str
    drivers: list[Driver]


class AlternativeBody(BaseModel):
    change: str = Field(description="e.g. `8 processors`, `walltime 1 h`, `partition gpu`")
    score: float = Field(description="higher is better; the job as asked is among them")
    start_p50_s: int
    finish_p50_s: int
    finish_p90_s: int
    kill_risk: bool = Field(description="the walltime may be shorter than the run")


class JobStart(BaseModel):
    """When a pending job starts: the model, the forward plan and Slurm side by side."""

    job_id: int
    user: str
    partition: str
    reason: str = Field(description="Slurm's pending reason code")
    reason_text: str
    asked_s: int
    predicted: PredictedStart | None = Field(description="None: no trained model (see model)")
    plan: PlannedStartBody | None = Field(description="None: held, so nothing plans it")
    slurm_start_s: int | None = Field(description="Slurm's planned start, once it has one")
    model: str = Field(description="the history the model learned from, or why there is none")


class JobExplanation(BaseModel):
    """Why a pending job waits, and the other ways to ask for the same work."""

    job_id: int
    user: str
    why: Why | None = Field(description="None: no trained model (see model)")
    alternatives: list[AlternativeBody]
    model: str


class WhatIf(BaseModel):
    """A what-if on a stored site: changes in the grammar of `schedsight simulate --change`."""

    site: str = Field(min_length=1, max_length=128, description="a stored site's name")
    version: int | None = Field(default=None, ge=1, description="default: the latest")
    changes: list[str] = Field(
        default_factory=list,
        max_length=20,
        description='e.g. "add 4 nodes to gpu", "fail switch s1", "qos normal MaxTRESPU=cpu=64"',
    )
    policy: str = Field(default="multifactor:easy", max_length=40, description="ORDER:BACKFILL")
    workload: int | None = Field(
        default=None,
        ge=1,
        description="stored workload to replay (default: the newest "
        "imported from the site's cluster)",
    )


class WhatIfAnswer(BaseModel):
    site: str
    version: int
    changes: list[str]
    policy: str
    workload: int
    before: list[PartitionRow] = Field(description="the site as it is")
    after: list[PartitionRow] = Field(description="with the changes")


class NodeTypeBody(BaseModel):
    name: str
    count: int
    cores: int
    mem_mb: int
    gpus: int
    gpu_type: str | None


class PartitionBody(BaseModel):
    name: str
    nodes: list[str]
    max_time_s: int | None
    default: bool
    state: str
    priority_tier: int


class SiteBody(BaseModel):
    """The stored site, as `schedsight site import` read it from Slurm."""

    name: str
    version: int
    release: str
    source: str
    node_types: list[NodeTypeBody]
    partitions: list[PartitionBody]
    qos: list[str]


class Health(BaseModel):
    status: str

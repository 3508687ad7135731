"""`OffloadJob`: an OpenMP offload workload as typed data (what to build or run, how many ranks
and GPUs, which runtime and offload policy), validated when built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from hpc.offload.errors import OffloadSpecError
from hpc.offload.profiles import GpuVendor, Runtime

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SEGMENT = re.compile(r"\d+(b|kb|mb|gb)?\Z", re.IGNORECASE)
# Set by the rendered script from the spec's own fields: a user value would contradict them.
RESERVED_ENV = frozenset(
    {"OMP_TARGET_OFFLOAD", "OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES",
     "OMP_DISTRIBUTED_MEM_SIZE", "DIOMP_MODE"}
)  # fmt: skip


class OffloadPolicy(Enum):
    """OMP_TARGET_OFFLOAD: DEFAULT falls back to the host when no device works; MANDATORY asks
    the runtime to fail instead (GCC 12 still falls back when no GPU plugin loads); DISABLED
    runs every target region on the host."""

    DEFAULT = "default"
    MANDATORY = "mandatory"
    DISABLED = "disabled"


class DiompMode(Enum):
    """`__init_diomp_target(mode)`: 1 = one rank drives several GPUs, 2 = one rank per GPU."""

    MULTI_GPU_PER_RANK = 1
    RANK_PER_GPU = 2


@dataclass(frozen=True, slots=True)
class OffloadJob:
    """One workload. Exactly one of `source` (built in the job) and `binary` (run as is).

    Counts are per job unless the name says otherwise; `gpus_per_rank` GPUs are bound to each
    rank by its node-local id (`SLURM_LOCALID`).
    """

    name: str
    source: Path | None = None
    binary: str | None = None
    args: tuple[str, ...] = ()
    ranks: int = 1
    nodes: int = 1
    gpus_per_rank: int = 0
    cpus_per_rank: int = 1
    runtime: Runtime = Runtime.GCC_OPENMP
    policy: OffloadPolicy = OffloadPolicy.DEFAULT
    vendor: GpuVendor = GpuVendor.NVIDIA
    mpi: str | None = None  # srun --mpi plugin (e.g. "pmix"); None: ranks do not talk
    segment_size: str = "1gb"  # DiOMP: OMP_DISTRIBUTED_MEM_SIZE per rank
    env: dict[str, str] = field(default_factory=dict)
    time_limit_s: int = 600

    def __post_init__(self) -> None:
        if (self.source is None) == (self.binary is None):
            raise OffloadSpecError(f"{self.name}: give exactly one of a source file and a binary")
        if self.source is not None and self.source.suffix not in (".c", ".cc", ".cpp"):
            raise OffloadSpecError(f"{self.source}: a C or C++ source file (.c, .cc, .cpp)")
        for what, n, least in (("ranks", self.ranks, 1), ("nodes", self.nodes, 1),
                               ("cpus per rank", self.cpus_per_rank, 1),
                               ("GPUs per rank", self.gpus_per_rank, 0)):  # fmt: skip
            if n < least:
                raise OffloadSpecError(f"{self.name}: {what} must be at least {least}, got {n}")
        if self.nodes > self.ranks:
            raise OffloadSpecError(
                f"{self.name}: {self.nodes} nodes for {self.ranks} ranks leaves nodes idle"
            )
        if self.ranks > 1 and self.mpi is None and self.runtime is Runtime.DIOMP:
            raise OffloadSpecError(f"{self.name}: a multi-rank DiOMP job needs a PMI (mpi='pmix')")
        if self.mpi is not None and not re.fullmatch(r"[a-z0-9_]+", self.mpi):
            raise OffloadSpecError(f"{self.name}: srun --mpi plugin {self.mpi!r} is not a name")
        if not _SEGMENT.match(self.segment_size):
            raise OffloadSpecError(
                f"{self.name}: segment size {self.segment_size!r}: use a number with b/kb/mb/gb"
            )
        for key in self.env:
            if not _ENV_NAME.match(key):
                raise OffloadSpecError(f"{self.name}: {key!r} is not an environment variable name")
            if key in RESERVED_ENV:
                raise OffloadSpecError(
                    f"{self.name}: {key} is set from the spec itself (policy, GPUs per rank, "
                    "segment size); change that field instead"
                )

    @property
    def ranks_per_node(self) -> int:
        """Ranks on the busiest node (ranks spread evenly, the first nodes take the extra)."""
        return -(-self.ranks // self.nodes)

    @property
    def gpus(self) -> int:
        """GPUs for the whole job."""
        return self.ranks * self.gpus_per_rank

    @property
    def diomp_mode(self) -> DiompMode:
        if self.gpus_per_rank > 1:
            return DiompMode.MULTI_GPU_PER_RANK
        return DiompMode.RANK_PER_GPU

"""The example kernels shipped in `examples/`: OpenMP target regions that check their own
results and print what `result.py` reads (device per rank, kernel seconds, check verdict).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from hpc.offload.errors import OffloadSpecError


@dataclass(frozen=True, slots=True)
class Example:
    name: str
    summary: str
    mpi: bool  # an MPI program: ranks exchange data (run it with srun --mpi)
    default_args: tuple[str, ...]  # sized for a host fallback in seconds; raise on a GPU
    gpu_args: tuple[str, ...]  # sized so that a GPU has work to do (speed-up measurements)

    @property
    def source(self) -> Path:
        return Path(str(resources.files("hpc.offload") / "examples" / f"{self.name}.c"))


EXAMPLES: dict[str, Example] = {
    e.name: e
    for e in (
        Example("saxpy", "y = a*x + y, repeated (bandwidth bound)", False,
                ("1048576", "20"), ("67108864", "100")),
        Example("stencil", "2-D five-point Jacobi stencil (bandwidth bound)", False,
                ("256", "100"), ("2048", "500")),
        Example("matmul", "dense matrix multiply (compute bound)", False,
                ("192",), ("1024",)),
        Example("halo_mpi", "MPI + OpenMP stencil with halo exchange between ranks", True,
                ("192", "40"), ("2048", "500")),
    )
}  # fmt: skip


def example(name: str) -> Example:
    try:
        return EXAMPLES[name]
    except KeyError:
        raise OffloadSpecError(
            f"no example {name!r}: choose one of {', '.join(sorted(EXAMPLES))}"
        ) from None

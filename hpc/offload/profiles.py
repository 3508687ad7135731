"""Compile profiles per runtime: which compiler, which flags, and what must be installed.

`gcc-openmp` is Debian's GCC 12 with `gcc-offload-nvptx`; CUDA 13's `ptxas` rejects GCC 12's
default GPU target (sm_30), hence `-foffload-options=nvptx-none=-misa=sm_80`. `clang-openmp`
is LLVM's `--offload-arch`. `diomp` is clang plus the DiOMP runtime over GASNet-EX and NCCL
(RCCL on AMD); its paths come from settings, and a missing piece is named, not guessed.
"""

from __future__ import annotations

import glob
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from hpc.offload.errors import ProfileUnavailableError

Which = Callable[[str], str | None]


class Runtime(Enum):
    GCC_OPENMP = "gcc-openmp"
    CLANG_OPENMP = "clang-openmp"
    DIOMP = "diomp"


class GpuVendor(Enum):
    NVIDIA = "nvidia"  # binds with CUDA_VISIBLE_DEVICES
    AMD = "amd"  # binds with HIP_VISIBLE_DEVICES


@dataclass(frozen=True, slots=True)
class DiompPaths:
    """Where a site installed DiOMP (settings `SCHEDSIGHT_DIOMP_*`); None: not configured."""

    home: Path | None = None  # has include/ and lib/libdiomp.*
    gasnet_home: Path | None = None  # has lib/libgasnet-<conduit>-par.*
    gasnet_conduit: str = "ibv"
    nccl_home: Path | None = None  # None: NCCL/RCCL from the compiler's default search path
    clang: str = "clang"


@dataclass(frozen=True, slots=True)
class Profile:
    """How to build one source file: `compiler` (then `mpi_compiler` for MPI codes) + flags."""

    runtime: Runtime
    compiler: str
    mpi_compiler: str  # Open MPI's wrapper; OMPI_CC picks the compiler underneath
    cflags: tuple[str, ...]
    ldflags: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()  # for the compile and the run (library paths)

    def compile_argv(self, source: str, output: str, *, mpi: bool) -> list[str]:
        cc = self.mpi_compiler if mpi else self.compiler
        return [cc, *self.cflags, source, "-o", output, *self.ldflags]


def gcc_profile(*, arch: str = "sm_80", vendor: GpuVendor = GpuVendor.NVIDIA) -> Profile:
    if vendor is GpuVendor.AMD:
        target = ("-foffload=amdgcn-amdhsa", f"-foffload-options=amdgcn-amdhsa=-march={arch}")
    else:
        target = ("-foffload=nvptx-none", f"-foffload-options=nvptx-none=-misa={arch}")
    return Profile(Runtime.GCC_OPENMP, "gcc", "mpicc", ("-O2", "-fopenmp", *target), ("-lm",))


def clang_profile(*, arch: str = "sm_80", clang: str = "clang") -> Profile:
    flags = ("-O2", "-fopenmp", f"--offload-arch={arch}")
    return Profile(Runtime.CLANG_OPENMP, clang, "mpicc", flags, ("-lm",), (("OMPI_CC", clang),))


def diomp_profile(
    paths: DiompPaths,
    *,
    arch: str = "sm_80",
    vendor: GpuVendor = GpuVendor.NVIDIA,
    which: Which = shutil.which,
) -> Profile:
    """The DiOMP profile, or `ProfileUnavailableError` listing everything that is missing."""
    missing: list[str] = []
    if which(paths.clang) is None:
        missing.append(f"clang with OpenMP offload ({paths.clang!r} is not on PATH; set "
                       "SCHEDSIGHT_DIOMP_CLANG to the LLVM that DiOMP was built with)")  # fmt: skip
    if paths.home is None:
        missing.append("the DiOMP install prefix: set SCHEDSIGHT_DIOMP_HOME (has lib/libdiomp.so)")
    else:
        if not (paths.home / "include").is_dir():
            missing.append(f"{paths.home / 'include'} (DiOMP headers) does not exist")
        if not _has_lib(paths.home / "lib", "diomp"):
            missing.append(f"libdiomp.so or libdiomp.a in {paths.home / 'lib'}")
    gasnet = f"gasnet-{paths.gasnet_conduit}-par"
    if paths.gasnet_home is None:
        missing.append(
            f"the GASNet-EX prefix: set SCHEDSIGHT_DIOMP_GASNET_HOME (has lib/lib{gasnet}.a)"
        )
    elif not _has_lib(paths.gasnet_home / "lib", gasnet):
        missing.append(
            f"lib{gasnet}.a in {paths.gasnet_home / 'lib'} (GASNet-EX built with the "
            f"{paths.gasnet_conduit!r} conduit and PAR threading; or set "
            "SCHEDSIGHT_DIOMP_GASNET_CONDUIT)"
        )
    collective = "rccl" if vendor is GpuVendor.AMD else "nccl"
    if paths.nccl_home is not None and not _has_lib(paths.nccl_home / "lib", collective):
        missing.append(f"lib{collective}.so in {paths.nccl_home / 'lib'}")
    if missing:
        raise ProfileUnavailableError(Runtime.DIOMP.value, missing)
    assert paths.home is not None and paths.gasnet_home is not None
    gpu = "-DDIOMP_ENABLE_HIP" if vendor is GpuVendor.AMD else "-DDIOMP_ENABLE_CUDA"
    cflags = ("-O2", "-fopenmp", f"--offload-arch={arch}", gpu, f"-I{paths.home / 'include'}")
    libdirs = [paths.home / "lib", paths.gasnet_home / "lib"]
    if paths.nccl_home is not None:
        libdirs.append(paths.nccl_home / "lib")
    ldflags = (
        *(f"-L{d}" for d in libdirs),
        *(f"-Wl,-rpath,{d}" for d in libdirs),
        "-ldiomp",
        f"-l{gasnet}",
        "-lpmi",
        f"-l{collective}",
        "-lm",
    )
    return Profile(
        Runtime.DIOMP, paths.clang, "mpicc", cflags, ldflags, (("OMPI_CC", paths.clang),)
    )


def gcc_missing(
    vendor: GpuVendor = GpuVendor.NVIDIA, *, mpi: bool, which: Which = shutil.which
) -> list[str]:
    """What the gcc-openmp profile lacks here (empty: usable). Debian package names given."""
    missing = []
    if which("gcc") is None:
        missing.append("gcc (apt-get install gcc)")
    target = "amdgcn-amdhsa" if vendor is GpuVendor.AMD else "nvptx-none"
    if not glob.glob(f"/usr/lib/gcc/*/*/accel/{target}/mkoffload"):
        package = "gcc-offload-amdgcn" if vendor is GpuVendor.AMD else "gcc-offload-nvptx"
        missing.append(f"GCC's {target} offload compiler (apt-get install {package})")
    if mpi and which("mpicc") is None:
        missing.append("mpicc (apt-get install libopenmpi-dev openmpi-bin libpmix-dev)")
    return missing


def _has_lib(directory: Path, name: str) -> bool:
    return any((directory / f"lib{name}{suffix}").exists() for suffix in (".so", ".a"))

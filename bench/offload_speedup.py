"""OpenMP target offload: GPU against host fallback for the shipped single-process examples.

Builds each example once with Debian's GCC 12 nvptx offload toolchain (the binary carries its
PTX; the GPU driver compiles it at load), then runs it twice at its GPU size:
OMP_TARGET_OFFLOAD=DISABLED (target regions on the host, OMP_NUM_THREADS = all cores) and
MANDATORY (on the GPU when the libgomp nvptx plugin finds libcuda). Prints the examples' own
kernel timings (data movement included), the device each run used, the speed-up and the machine.

    python bench/offload_speedup.py build build/offload-bench   # where the toolchain is
    python bench/offload_speedup.py run build/offload-bench     # where the GPU is (stdlib only)
    python bench/offload_speedup.py all                          # both, in a temporary folder

`build` copies libgomp and its nvptx plugin beside the binaries, so that `run` needs neither
the compiler nor Debian's packages on the GPU machine, only its NVIDIA driver (libcuda.so.1).
"""

from __future__ import annotations

import argparse
import glob
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hpc.offload.examples import EXAMPLES  # noqa: E402
from hpc.offload.profiles import gcc_profile  # noqa: E402
from hpc.offload.result import read_report  # noqa: E402

NAMES = [e.name for e in EXAMPLES.values() if not e.mpi]
LIBS = ("libgomp.so.1", "libgomp-plugin-nvptx.so.1")


def build(out: Path, arch: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    profile = gcc_profile(arch=arch)
    for name in NAMES:
        argv = profile.compile_argv(str(EXAMPLES[name].source), str(out / name), mpi=False)
        print("+", " ".join(argv), flush=True)
        subprocess.run(argv, check=True)
    for lib in LIBS:
        found = sorted(glob.glob(f"/usr/lib/*-linux-gnu/{lib}"))
        if not found:
            sys.exit(f"{lib} not found: apt-get install libgomp1 libgomp-plugin-nvptx1")
        shutil.copy2(os.path.realpath(found[0]), out / lib)


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    gpu = "no nvidia-smi"
    if shutil.which("nvidia-smi"):
        query = ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"]
        gpu = subprocess.run(query, capture_output=True, text=True).stdout.strip() or "none"
    return f"{platform.node()}: {os.cpu_count()} x {cpu}; GPU: {gpu}"


def run(out: Path, *, small: bool = False) -> None:
    env = os.environ | {
        "LD_LIBRARY_PATH": f"{out}:{os.environ.get('LD_LIBRARY_PATH', '')}",
        "OMP_NUM_THREADS": str(os.cpu_count() or 1),
    }
    print(machine())
    head = f"{'example':<8} {'args':<14} {'host s':>9} {'gpu s':>9} {'device':>7} {'speed-up':>9}"
    print(f"{head} check")
    for name in NAMES:
        args = EXAMPLES[name].default_args if small else EXAMPLES[name].gpu_args
        times: dict[str, float | None] = {}
        device, checks = "?", []
        for policy in ("DISABLED", "MANDATORY"):
            done = subprocess.run(
                [str(out / name), *args], env=env | {"OMP_TARGET_OFFLOAD": policy},
                capture_output=True, text=True,
            )  # fmt: skip
            report = read_report(done.stdout)
            times[policy] = report.kernel_s
            checks.append("ok" if done.returncode == 0 and report.check_ok else "FAIL")
            if policy == "MANDATORY":
                device = report.device.value
            if done.returncode != 0:
                print(f"{name} {policy}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
        host, gpu = times["DISABLED"], times["MANDATORY"]
        speedup = f"{host / gpu:.1f}x" if host and gpu else "-"
        print(
            f"{name:<8} {' '.join(args):<14} {host or 0:>9.3f} {gpu or 0:>9.3f} {device:>7} "
            f"{speedup:>9} {'/'.join(checks)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["build", "run", "all"])
    parser.add_argument("dir", nargs="?", type=Path, help="where the binaries go (build, run)")
    parser.add_argument("--arch", default="sm_80", help="GPU architecture (-misa)")
    parser.add_argument("--small", action="store_true", help="the CI sizes (a smoke test)")
    args = parser.parse_args()
    if args.step in ("build", "run") and args.dir is None:
        parser.error(f"{args.step} needs a folder")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or Path(tmp)
        if args.step in ("build", "all"):
            build(folder, args.arch)
        if args.step in ("run", "all"):
            run(folder, small=args.small)


if __name__ == "__main__":
    main()

"""The generated scripts and profiles, without a cluster: flags, environment, quoting, and the
launcher's per-rank GPU binding run under bash with Slurm's variables set by hand."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from hpc.offload.errors import OffloadSpecError, ProfileUnavailableError
from hpc.offload.examples import EXAMPLES, example
from hpc.offload.job import OffloadJob, OffloadPolicy
from hpc.offload.launch import job_spec, render_batch, render_launcher
from hpc.offload.profiles import DiompPaths, GpuVendor, Runtime, diomp_profile, gcc_profile
from hpc.offload.result import Device, read_report

SHOW = ("/bin/bash", "-c", 'echo "$CUDA_VISIBLE_DEVICES|${HIP_VISIBLE_DEVICES:-}"')


def _job(**kw: object) -> OffloadJob:
    fields: dict[str, object] = {"name": "t", "binary": SHOW[0], "args": SHOW[1:]}
    return OffloadJob(**(fields | kw))  # type: ignore[arg-type]


def _launch(
    tmp_path: Path, job: OffloadJob, local_id: int, **env: str
) -> subprocess.CompletedProcess[str]:
    launcher = tmp_path / "launch.sh"
    launcher.write_text(render_launcher(job))
    base = {"PATH": "/usr/bin:/bin", "SLURM_LOCALID": str(local_id), "SLURM_PROCID": "9"}
    return subprocess.run(
        ["bash", str(launcher), *SHOW], env=base | env, capture_output=True, text=True, check=False
    )


def test_gcc_profile_targets_sm_80_so_cuda_13_ptxas_accepts_it() -> None:
    argv = gcc_profile().compile_argv("k.c", "app", mpi=False)
    assert argv[0] == "gcc"
    assert "-fopenmp" in argv and "-foffload=nvptx-none" in argv
    assert "-foffload-options=nvptx-none=-misa=sm_80" in argv
    assert gcc_profile().compile_argv("k.c", "app", mpi=True)[0] == "mpicc"


@pytest.mark.parametrize("rank", range(4))
def test_one_gpu_per_rank_binds_rank_i_to_gpu_i(tmp_path: Path, rank: int) -> None:
    done = _launch(tmp_path, _job(gpus_per_rank=1, ranks=4), rank)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{rank}|"


def test_several_gpus_per_rank_take_consecutive_slurm_ids(tmp_path: Path) -> None:
    job = _job(gpus_per_rank=2, ranks=2)
    assert _launch(tmp_path, job, 1).stdout.strip() == "2,3|"
    # Slurm exported the node's GPUs for this job (no device cgroup): take those ids.
    assert _launch(tmp_path, job, 1, CUDA_VISIBLE_DEVICES="4,5,6,7").stdout.strip() == "6,7|"


def test_a_rank_without_enough_gpus_fails_with_the_reason(tmp_path: Path) -> None:
    done = _launch(tmp_path, _job(gpus_per_rank=2, ranks=2), 1, CUDA_VISIBLE_DEVICES="0,1")
    assert done.returncode == 1
    assert "needs 2 GPU(s) from position 2" in done.stderr


def test_amd_binds_hip_visible_devices(tmp_path: Path) -> None:
    done = _launch(tmp_path, _job(gpus_per_rank=1, vendor=GpuVendor.AMD), 3)
    assert done.stdout.strip() == "|3"


def test_launcher_refuses_to_run_outside_srun(tmp_path: Path) -> None:
    launcher = tmp_path / "launch.sh"
    launcher.write_text(render_launcher(_job(gpus_per_rank=1)))
    done = subprocess.run(["bash", str(launcher), "true"], capture_output=True, text=True, env={})
    assert done.returncode != 0 and "runs under srun" in done.stderr


def test_batch_script_sets_policy_diomp_segment_and_mode(tmp_path: Path) -> None:
    job = _job(runtime=Runtime.DIOMP, ranks=4, gpus_per_rank=1, mpi="pmix",
               policy=OffloadPolicy.MANDATORY, segment_size="2gb")  # fmt: skip
    script = render_batch(job, tmp_path, None)
    assert "export OMP_TARGET_OFFLOAD=MANDATORY" in script
    assert "export OMP_DISTRIBUTED_MEM_SIZE=2gb" in script
    assert "export DIOMP_MODE=2" in script  # one rank per GPU
    srun = shlex.split(script.splitlines()[-1])
    assert srun[:4] == ["srun", "--mpi=pmix", "--ntasks=4", "--nodes=1"]
    assert srun[-3:] == list(SHOW)  # the argument survives quoting intact
    assert "DIOMP_MODE=1" in render_batch(
        _job(runtime=Runtime.DIOMP, gpus_per_rank=2), tmp_path, None
    )
    assert "OMP_TARGET_OFFLOAD" not in render_batch(_job(), tmp_path, None)


def test_source_gets_a_compile_step_and_runs_the_built_binary(tmp_path: Path) -> None:
    job = OffloadJob(name="s", source=example("saxpy").source, args=("$(touch /tmp/x)",))
    script = render_batch(job, tmp_path, gcc_profile())
    assert "-foffload-options=nvptx-none=-misa=sm_80" in script
    assert shlex.split(script.splitlines()[-1])[-2:] == ["./app", "$(touch /tmp/x)"]


def test_job_spec_asks_slurm_for_every_rank_gpu_and_node(tmp_path: Path) -> None:
    job = _job(ranks=4, nodes=2, gpus_per_rank=2, cpus_per_rank=3, mpi="pmix")
    spec = job_spec(job, tmp_path, account="physics", partition="gpu", gpu_type="a100")
    assert (spec.ntasks, spec.nodes, spec.cpus_per_task, spec.gpus) == (4, 2, 3, 8)
    assert spec.command == ("bash", str(tmp_path / "job.sh"))
    assert spec.output == str(tmp_path / "slurm-%j.out")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"source": Path("a.c")}, "exactly one"),
        ({"ranks": 0}, "ranks must be at least 1"),
        ({"nodes": 2}, "leaves nodes idle"),
        ({"env": {"CUDA_VISIBLE_DEVICES": "0"}}, "set from the spec"),
        ({"env": {"A B": "x"}}, "not an environment variable name"),
        ({"runtime": Runtime.DIOMP, "ranks": 2}, "needs a PMI"),
        ({"segment_size": "lots"}, "segment size"),
    ],
)
def test_bad_specs_are_refused_with_the_reason(kw: dict[str, object], message: str) -> None:
    with pytest.raises(OffloadSpecError, match=message):
        _job(**kw)


def test_diomp_profile_names_every_missing_piece() -> None:
    with pytest.raises(ProfileUnavailableError) as caught:
        diomp_profile(DiompPaths(), which=lambda _: None)
    text = str(caught.value)
    assert "clang" in text and "SCHEDSIGHT_DIOMP_HOME" in text
    assert "SCHEDSIGHT_DIOMP_GASNET_HOME" in text
    assert len(caught.value.missing) == 3


def test_diomp_profile_with_an_install_builds_with_the_issue_flags(tmp_path: Path) -> None:
    home, gasnet = tmp_path / "diomp", tmp_path / "gasnet"
    for d in (home / "include", home / "lib", gasnet / "lib"):
        d.mkdir(parents=True)
    (home / "lib" / "libdiomp.so").touch()
    (gasnet / "lib" / "libgasnet-ibv-par.a").touch()
    profile = diomp_profile(DiompPaths(home, gasnet), which=lambda c: f"/usr/bin/{c}")
    argv = profile.compile_argv("app.c", "app", mpi=False)
    assert argv[0] == "clang"
    for flag in ("-fopenmp", "--offload-arch=sm_80", "-DDIOMP_ENABLE_CUDA", "-ldiomp",
                 "-lgasnet-ibv-par", "-lpmi", "-lnccl", f"-I{home / 'include'}"):  # fmt: skip
        assert flag in argv
    (gasnet / "lib" / "libgasnet-ibv-par.a").unlink()
    with pytest.raises(ProfileUnavailableError, match=r"libgasnet-ibv-par\.a"):
        diomp_profile(DiompPaths(home, gasnet), which=lambda c: f"/usr/bin/{c}")


def test_report_reads_devices_kernel_time_and_check() -> None:
    out = (
        "schedsight-device rank=1: host\nnoise\nschedsight-device rank=0: gpu\n"
        "schedsight-kernel-s: 0.5\nschedsight-kernel-s: 1.25\nschedsight-check: ok n=4\n"
    )
    report = read_report(out)
    assert (report.device, report.ranks_reporting, report.kernel_s) == (Device.MIXED, 2, 1.25)
    assert report.check_ok is True and report.check_detail == "ok n=4"
    assert read_report("schedsight-check: FAIL max_err=1\n").check_ok is False
    assert read_report("").device is Device.UNKNOWN and read_report("").check_ok is None


def test_every_example_ships_its_source() -> None:
    for ex in EXAMPLES.values():
        assert ex.source.is_file(), ex.source
        assert "schedsight-check" in ex.source.read_text()

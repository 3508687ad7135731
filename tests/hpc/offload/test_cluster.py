"""Against the real dev cluster: every example is built with Debian's GCC offload toolchain
and runs as a Slurm job through `schedsight offload run` (the MPI one on 2 nodes under
`srun --mpi=pmix`), checks its own result, and lands in the database; and a 4-rank DiOMP
launcher binds rank i to GPU i under srun. Skips without Slurm or the toolchain; fails in CI.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import OffloadRunRow
from db.session import transaction
from hpc.offload.job import OffloadJob
from hpc.offload.profiles import Runtime, gcc_missing
from hpc.offload.result import Device
from hpc.offload.run import Placement, run_on_slurm
from hpc.slurm.actions import MemoryAudit
from hpc.slurm.cli_backend import CliBackend
from hpc.slurm.retry import Backoff
from schedsight.cli import main
from schedsight.settings import Settings
from schedsight.storage import Store
from tests.hpc.slurm.conftest import REMIT, _why_not_up, hold_cluster

pytestmark = pytest.mark.slurm
TOOLCHAIN = "run `sudo scripts/offload-toolchain.sh` (CI does)"


def _why_no_toolchain() -> str | None:
    missing = gcc_missing(mpi=True)
    if missing:
        return f"offload toolchain incomplete ({'; '.join(missing)}): {TOOLCHAIN}"
    plugins = subprocess.run(["srun", "--mpi=list"], capture_output=True, text=True).stdout
    if "pmix" not in plugins:
        return f"Slurm has no pmix MPI plugin (srun --mpi=list: {' '.join(plugins.split())})"
    return None


@pytest.fixture(scope="module")
def offload_cluster() -> None:
    hold_cluster()  # one test session at a time drives the dev cluster
    reason = _why_not_up() or _why_no_toolchain()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI must run the offload tests)")
        pytest.skip(reason)


@pytest.fixture
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    tmp_path.chmod(0o755)
    monkeypatch.setenv("SCHEDSIGHT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", "")
    monkeypatch.setenv("SCHEDSIGHT_SLURM_BACKEND", "cli")
    monkeypatch.setenv("SCHEDSIGHT_SLURM_ACCOUNTS", "physics")
    monkeypatch.setenv("SCHEDSIGHT_SLURM_PARTITIONS", "batch,gpu")
    assert main(["db", "upgrade"]) == 0
    return Settings()


@pytest.mark.parametrize(
    ("name", "ranks", "gpus_per_rank", "nodes"),
    [("saxpy", 1, 1, 1), ("stencil", 1, 1, 1), ("matmul", 1, 0, 1), ("halo_mpi", 2, 1, 2)],
)
def test_example_builds_runs_checks_and_is_stored(
    offload_cluster: None,
    settings_env: Settings,
    capsys: pytest.CaptureFixture[str],
    name: str,
    ranks: int,
    gpus_per_rank: int,
    nodes: int,
) -> None:
    argv = ["offload", "run", name, "--ranks", str(ranks), "--gpus-per-rank", str(gpus_per_rank)]
    argv += ["--partition", "gpu" if gpus_per_rank else "batch", "--timeout-s", "180"]
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == 0, out + err
    with transaction(Store.open(settings_env.resolved_database_url()).sessions) as session:
        row = session.scalars(select(OffloadRunRow)).one()
        assert (row.name, row.runtime, row.ranks, row.nodes) == (
            f"offload-{name}",
            "gcc-openmp",
            ranks,
            nodes,
        )
        assert (row.state, row.exit_code, row.check_ok) == ("COMPLETED", 0, True)
        assert row.check_detail.startswith(f"ok {name}")
        # No GPU on the dev cluster: target regions fall back to the host, correctly.
        assert row.device in (Device.HOST.value, Device.GPU.value)
        assert row.spec["ranks_reporting"] == ranks
        assert row.kernel_s is not None and row.kernel_s > 0
        job_id, workdir = row.slurm_job_id, Path(row.spec["workdir"])
    output = (workdir / f"slurm-{job_id}.out").read_text()
    assert "-foffload-options=nvptx-none=-misa=sm_80" in output  # the compile step ran
    [job] = CliBackend().jobs([job_id])
    assert job.node_count == nodes  # the MPI example really spans 2 nodes


def test_diomp_launcher_binds_rank_i_to_gpu_i_under_srun(
    offload_cluster: None, tmp_path: Path
) -> None:
    tmp_path.chmod(0o755)
    show = 'echo "bind rank=$SLURM_PROCID local=$SLURM_LOCALID cvd=$CUDA_VISIBLE_DEVICES '
    show += 'seg=$OMP_DISTRIBUTED_MEM_SIZE mode=$DIOMP_MODE"'
    job = OffloadJob(
        name="diomp-bind", binary="/bin/bash", args=("-c", show), runtime=Runtime.DIOMP,
        ranks=4, gpus_per_rank=1, mpi="pmix", segment_size="2gb", time_limit_s=300,
    )  # fmt: skip
    done = run_on_slurm(
        CliBackend(), job, workdir=tmp_path / "run", profile=None,
        place=Placement("physics", "gpu", "a100"), remit=REMIT, audit=MemoryAudit(),
        backoff=Backoff(attempts=3, first_s=0.2), timeout_s=180,
    )  # fmt: skip
    assert (done.state, done.exit_code) == ("COMPLETED", 0), done.output
    lines = re.findall(r"^bind rank=(\d+) local=(\d+) cvd=(\S*) seg=(\S*) mode=(\S*)$",
                       done.output, re.MULTILINE)  # fmt: skip
    assert sorted(int(rank) for rank, *_ in lines) == [0, 1, 2, 3]
    for _rank, local, cvd, seg, mode in lines:
        assert cvd == local  # rank i on GPU i of the node
        assert (seg, mode) == ("2gb", "2")

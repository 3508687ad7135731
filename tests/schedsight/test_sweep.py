"""`schedsight sweep`: a grid of policies x machine sizes, locally in a process pool and as
a Slurm job array on the dev cluster into PostgreSQL; every point a stored run."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpc.workload.lublin import generate
from hpc.workload.swf import write_swf
from schedsight.cli import main
from tests.db.conftest import postgres_database  # noqa: F401  (a fixture)
from tests.hpc.slurm.conftest import slurm_cluster  # noqa: F401  (a fixture)


@pytest.fixture
def trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCHEDSIGHT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", "")
    path = tmp_path / "w.swf"
    write_swf(generate(600, seed=4, procs=128), path)
    return path


def _runs(out: str) -> list[int]:
    return [int(line.rsplit("run ", 1)[1]) for line in out.splitlines() if " procs  run " in line]


def test_a_local_sweep_stores_one_run_per_point_and_reuses_them(
    trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["sweep", str(trace), "--policies", "fcfs:easy,sjf:easy", "--procs", "96,128",
            "--workers", "2"]  # fmt: skip
    assert main(argv) == 0
    first = _runs(capsys.readouterr().out)
    assert len(first) == 4 and len(set(first)) == 4
    assert main(argv) == 0
    assert _runs(capsys.readouterr().out) == first  # stored points are not replayed


@pytest.mark.slurm
def test_a_slurm_sweep_runs_as_one_array_into_postgresql(
    trace: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    slurm_cluster: str,  # noqa: F811
    postgres_database: str,  # noqa: F811
) -> None:
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", postgres_database)
    monkeypatch.setenv("SCHEDSIGHT_SLURM_BACKEND", "cli")
    monkeypatch.setenv("SCHEDSIGHT_SLURM_ACCOUNTS", "physics")
    monkeypatch.setenv("SCHEDSIGHT_SLURM_PARTITIONS", "batch")
    monkeypatch.delenv("SCHEDSIGHT_SLURM_COMMAND_PREFIX", raising=False)
    assert main(["db", "upgrade"]) == 0
    argv = ["sweep", str(trace), "--on", "slurm", "--policies", "fcfs:easy,sjf:easy,fcfs:none",
            "--procs", "96,128"]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "Slurm array job" in captured.err
    assert len(set(_runs(captured.out))) == 6


def test_a_slurm_sweep_needs_a_shared_database(
    trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["sweep", str(trace), "--on", "slurm", "--policies", "fcfs:easy", "--procs", "64"]
    assert main(argv) == 2
    assert "needs a database every node reaches" in capsys.readouterr().err

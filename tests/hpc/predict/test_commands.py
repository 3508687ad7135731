"""`schedsight predict / explain / alternatives` from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from schedsight.cli import main


def test_explain_prints_a_sentence_and_writes_pictures(
    trace_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = 450
    argv = ["explain", str(job), "--trace", str(trace_file), "--png-dir", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("Predicted wait ")
    assert "best alternatives:" in out
    assert (tmp_path / f"waterfall_{job}.png").exists()


def test_unknown_job_is_one_line_and_exit_2(
    trace_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alternatives", "999999", "--trace", str(trace_file)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("schedsight: error: job 999999 is not in")


def test_a_workload_source_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict"]) == 2
    assert "--trace FILE or --workload ID" in capsys.readouterr().err

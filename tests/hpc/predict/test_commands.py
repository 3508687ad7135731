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
    assert "\nmost likely start: " in out and "after submission (chance " in out
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


def test_predictions_are_stored_with_explanation_and_outcome(
    trace_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from db.predictions import predictions_for
    from schedsight.settings import Settings
    from schedsight.storage import Store

    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    assert main(["db", "upgrade"]) == 0
    assert main(["simulate", str(trace_file), "--save"]) == 0  # stores the workload (id 1)
    assert main(["explain", "450", "--workload", "1", "--save"]) == 0
    assert main(["predict", "--job", "450", "--trace", str(trace_file), "--save"]) == 0
    assert main(["predict", "--trace", str(trace_file), "--save"]) == 2
    assert "give --job N" in capsys.readouterr().err
    store = Store.open(Settings().resolved_database_url())
    with store.sessions() as session:
        stored = predictions_for(session, job_ref="workload:1:450")
        assert [p.kind for p in stored] == ["start", "runtime"]
        start, run = stored
        assert start.workload_id == 1
        assert start.p10_s <= start.p50_s <= start.p90_s
        assert start.actual_s is not None and run.actual_s is not None
        assert start.explanation["sentence"].startswith("Predicted wait")
        assert start.explanation["attributions"]
        by_file = predictions_for(session, job_ref=f"{trace_file.name}:450")
        assert [p.kind for p in by_file] == ["start", "runtime"]
        assert by_file[0].p50_s == pytest.approx(start.p50_s)  # same trace, same model

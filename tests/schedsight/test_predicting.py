"""`predict`, `explain` and `alternatives` train a workload's model once and reuse it."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpc.workload.lublin import LublinParams, generate
from hpc.workload.swf import write_swf
from schedsight.cli import main

PARAMS = LublinParams(interarrival_scale=0.5)


@pytest.fixture(autouse=True)
def own_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDSIGHT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", "")


def _trace(folder: Path, jobs: int) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "site.swf"
    trace = generate(500, seed=4, procs=64, params=PARAMS)
    write_swf(type(trace)(trace.header, trace.records[:jobs], trace.line_numbers[:jobs]), path)
    return path


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    assert main(argv) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_the_second_question_loads_the_stored_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = str(_trace(tmp_path / "v1", 500))
    out, err = _run(["predict", "--trace", trace, "--job", "450"], capsys)
    assert "training on 500 jobs" in err and "stored as model 1" in err
    again, err = _run(["predict", "--trace", trace, "--job", "450"], capsys)
    assert "training" not in err and "using stored model 1" in err
    assert again == out
    for argv in (["explain", "450"], ["alternatives", "450", "--procs", "8"]):
        _, err = _run([*argv, "--trace", trace], capsys)
        assert "training" not in err and "using stored model 1" in err


def test_a_newer_version_of_the_trace_continues_its_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(["predict", "--trace", str(_trace(tmp_path / "v1", 400)), "--job", "300"], capsys)
    newer = str(_trace(tmp_path / "v2", 500))  # the same file name with more history
    _, err = _run(["predict", "--trace", newer, "--job", "450"], capsys)
    assert "training on 500 jobs" in err and "continuing model 1; stored as model 2" in err
    _, err = _run(["predict", "--trace", newer, "--job", "450"], capsys)
    assert "using stored model 2" in err

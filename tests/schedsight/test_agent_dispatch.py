"""`schedsight agent dispatch`: the search decides; a goal of several objectives with hard
constraints is read from --weight/--order and --constraint (as `agent advise` takes them),
and reported met or infeasible."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schedsight.cli import main


@pytest.fixture(autouse=True)
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCHEDSIGHT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", "")
    return tmp_path


def _dispatch(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    argv = ["agent", "dispatch", "--no-llm", "--no-store", "--json", "--jobs", "8", *extra]
    assert main(argv) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def test_a_weighted_goal_with_constraints_reports_each_constraint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _dispatch(capsys, "--weight", "mean_wait=1", "--weight", "fairness=2",
                    "--constraint", "p95_wait cores<16 <= 2h",
                    "--constraint", "utilization >= 10%")  # fmt: skip
    goal = out["goal"]
    assert isinstance(goal, dict) and goal["goal"].startswith("mean wait x1, Jain fairness x2")
    assert [c["constraint"] for c in goal["constraints"]] == [
        "p95 wait of jobs under 16 cores <= 2 h", "utilization >= 10.0%"
    ]  # fmt: skip
    assert goal["feasible"] == all(c["met"] for c in goal["constraints"])
    assert out["llm_picks"] is False and out["rationale"]["usage"] == [0, 0, 0]


def test_an_impossible_constraint_is_reported_infeasible(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["agent", "dispatch", "--no-llm", "--no-store", "--family", "bursty", "--jobs", "12",
          "--order", "mean_wait,makespan", "--constraint", "max_wait <= 0"])  # fmt: skip
    out = capsys.readouterr().out
    assert "longest wait <= 0 s:" in out and "NOT met" in out
    assert "infeasible: no plan found meets every constraint" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--constraint", "utilization <= 50%"], "utilization is bounded with >="),
        (["--constraint", "p95_wait = 3600"], "expected MEASURE [cores<N]"),
        (["--order", "speed"], "'speed' is not a valid Objective"),
    ],
)
def test_a_bad_goal_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["agent", "dispatch", "--no-llm", "--no-store", "--jobs", "5", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("schedsight: error: ") and message in err
    assert "Traceback" not in err

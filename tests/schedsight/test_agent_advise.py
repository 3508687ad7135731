"""`schedsight agent advise`: the goal read and shown first, run only once confirmed; a Pareto
set over five objectives; the recommendation and its actions stored as proposed decisions that
`agent decisions` lists and `agent approve` decides with the admin token."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from db.session import sqlite_url
from schedsight.cli import main
from tests.dashboard.conftest import ADMIN_TOKEN
from tests.lab_site import store_lab_site

GOAL = ("keep utilization above 80%; no job under 16 cores waits more than an hour at p95; "
        "be fair across accounts")  # fmt: skip


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCHEDSIGHT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", "")
    monkeypatch.setenv("SCHEDSIGHT_ADMIN_TOKEN", ADMIN_TOKEN)
    store_lab_site(sqlite_url(tmp_path / "schedsight.db"))
    return tmp_path


def test_an_unconfirmed_goal_is_shown_and_nothing_runs(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["agent", "advise", "--no-llm", "--jobs", "300", GOAL]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == ("goal read (rules): Jain fairness x1; utilization >= 80.0%; "
                                   "p95 wait of jobs under 16 cores <= 1 h")  # fmt: skip
    assert "--constraint 'p95_wait cores<16 <= 3600s'" in out
    assert "not confirmed: run again with --yes" in err and "Pareto" not in out


def test_advise_prints_five_objectives_and_stores_decisions_to_approve(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["agent", "advise", "--no-llm", "--yes", "--jobs", "300", "--site", "lab",
            "--no-queue", GOAL]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.strip().startswith("candidate"))
    assert header.split()[1:] == ["mean", "wait", "bsld", "util", "fairness", "makespan", "met"]
    assert "trade-offs:" in out and "recommendation (" in out
    assert main(["agent", "decisions", "--status", "proposed", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and rows[-1]["action"]["kind"] == "set_policy"
    first = rows[-1]["id"]
    monkeypatch.setattr("sys.stdin", io.StringIO("wrong\n"))
    assert main(["agent", "approve", str(first)]) == 2
    assert "wrong admin token" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(ADMIN_TOKEN + "\n"))
    assert main(["agent", "approve", str(first), "--actor", "pytest"]) == 0
    assert f"decision {first} approved (advice only" in capsys.readouterr().out
    assert main(["agent", "decision", str(first)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "approved" and shown["approved_by"] == "pytest"

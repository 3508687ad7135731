"""A new user's first commands need no `schedsight db upgrade`: the embedded SQLite database
is created and migrated when a command first needs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from schedsight.cli import main


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCHEDSIGHT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", "")
    return tmp_path / "data"


def test_runs_list_works_on_a_fresh_data_dir(
    fresh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "list"]) == 0
    assert "no stored runs yet" in capsys.readouterr().out
    assert (fresh / "schedsight.db").is_file()


def test_the_agent_stores_its_decisions_on_a_fresh_data_dir(
    fresh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["agent", "dispatch", "--no-llm", "--jobs", "5", "--json"]) == 0
    assert "stored 5 decisions" in capsys.readouterr().err

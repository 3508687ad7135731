"""`schedsight agent ask --site NAME "QUESTION"`: the change lines read from the question come
before any figure, the answer is per partition, and an unreadable question lists the grammar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from db.decisions import list_decisions
from db.session import sqlite_url, transaction
from db.store import Store
from schedsight.cli import main
from tests.lab_site import store_lab_site


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCHEDSIGHT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", "")
    store_lab_site(sqlite_url(tmp_path / "schedsight.db"))
    return tmp_path


def test_ask_on_a_stored_site_prints_the_changes_then_the_figures(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    question = "what if the gpu partition gets 4 more nodes?"
    assert main(["agent", "ask", "--site", "lab", "--jobs", "300", question]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["changes read from the question (rules):", "  add 4 nodes to gpu"]
    assert lines[2].startswith("On site lab@1 (generated 300 jobs (seed 0)) under fcfs:easy")
    assert lines[3].startswith("  overall as it is: mean wait")
    assert lines[4].startswith("  overall changed:  mean wait")
    assert [line.split(":")[0] for line in lines[5:7]] == ["  batch", "  gpu"]
    store = Store.open(sqlite_url(data / "schedsight.db"))
    with transaction(store.sessions) as session:
        [decision] = list_decisions(session)
        assert decision.question == question


def test_json_and_a_stored_version(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["agent", "ask", "--site", "lab@1", "--jobs", "300", "--no-store", "--json",
            "fail switch s1 at 2h"]  # fmt: skip
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["changes"] == ["fail switch s1 at 2h"] and out["site"] == "lab@1"
    assert [r["partition"] for r in out["partitions"]] == ["batch", "gpu"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--site", "lab", "what if we lost 16 nodes next week?"], "starts later or ends"),
        (["--site", "lab", "what if we doubled the weights?"], "move N nodes from P to P"),
        (["--site", "lab", "add 4 nodes to gpux"], "change line 1 'add 4 nodes to gpux'"),
        (["--site", "nosuch", "fail switch s1"], "no site named 'nosuch' is stored"),
    ],
)
def test_bad_questions_and_sites_are_one_line_errors(
    data: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["agent", "ask", "--no-store", "--jobs", "100", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_site_that_is_not_name_at_version_is_refused_by_the_parser(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["agent", "ask", "--site", "lab@x", "fail switch s1"])
    assert caught.value.code == 2 and "NAME or NAME@VERSION" in capsys.readouterr().err

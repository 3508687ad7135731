"""The `schedsight` command as a user meets it: outputs, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from schedsight.cli import MAIN_POLICIES, main

SUMMARY_KEYS = {
    "jobs",
    "mean_wait_s",
    "median_wait_s",
    "p95_wait_s",
    "mean_bsld",
    "utilization",
    "makespan_s",
    "jain_fairness",
    "sim_wall_s",
}


@pytest.fixture(scope="module")
def workload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "gen.swf"
    assert main(["generate", "--jobs", "600", "--seed", "3", "--procs", "64", "-o", str(path)]) == 0
    return path


def test_generate_writes_the_requested_number_of_jobs(workload: Path) -> None:
    records = [line for line in workload.read_text().splitlines() if not line.startswith(";")]
    assert len(records) == 600
    assert "; MaxProcs: 64" in workload.read_text()


def test_generate_is_reproducible(tmp_path: Path) -> None:
    a, b = tmp_path / "a.swf", tmp_path / "b.swf"
    for out in (a, b):
        main(["generate", "--jobs", "50", "--seed", "9", "-o", str(out)])
    assert a.read_bytes() == b.read_bytes()


def test_simulate_json_has_the_documented_keys(
    workload: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["simulate", str(workload), "--policy", "sjf", "--backfill", "easy", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out.keys() >= SUMMARY_KEYS
    assert out["jobs"] == 600
    assert out["policy"] == "sjf:easy"
    assert 0.0 < out["utilization"] <= 1.0


def test_simulate_by_user_adds_a_breakdown(
    workload: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", str(workload), "--by", "user", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["by_user"]
    assert sum(r["jobs"] for r in rows) == 600
    assert sum(r["usage_share"] for r in rows) == pytest.approx(1.0)


def test_compare_prints_one_row_per_policy(
    workload: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", str(workload)]) == 0
    table = capsys.readouterr().out
    for policy in MAIN_POLICIES.split(","):
        assert policy in table


def test_compare_json(workload: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(workload), "--policies", "fcfs:none,fcfs:easy", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["policy"] for r in rows] == ["fcfs:none", "fcfs:easy"]
    assert rows[1]["mean_wait_s"] <= rows[0]["mean_wait_s"]


def test_capacity_failure_is_simulated(workload: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", str(workload), "--json"]
    assert main(args) == 0
    healthy = json.loads(capsys.readouterr().out)
    assert main([*args, "--capacity", "fail@0:32"]) == 0
    degraded = json.loads(capsys.readouterr().out)
    assert degraded["mean_wait_s"] > healthy["mean_wait_s"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy", "lifo"], "unknown queue order 'lifo'"),
        (["--backfill", "greedy"], "unknown backfill mode 'greedy'"),
        (["--capacity", "explode@1:2"], "bad capacity change 'explode@1:2'"),
        (["--procs", "0"], "argument --procs: expected a whole number within 1..100,000,000"),
        (["--w-age", "nan"], "argument --w-age: expected a finite number"),
    ],
)
def test_bad_options_exit_2_with_one_line(
    workload: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    try:
        code = main(["simulate", str(workload), *args])
    except SystemExit as exc:  # refused by the option's own type, before the command runs
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert message in err[0]


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(tmp_path / "nope.swf")]) == 2
    assert "nope.swf" in capsys.readouterr().err


def malformed(tmp_path: Path) -> Path:
    path = tmp_path / "bad.swf"
    good = "1 0 -1 100 4 -1 -1 4 200 -1 1 1 1 -1 -1 -1 -1 -1"
    bad = "2 10 -1 abc 4 -1 -1 4 200 -1 1 1 1 -1 -1 -1 -1 -1"
    path.write_text(f"; MaxProcs: 8\n{good}\n{bad}\n")
    return path


def test_malformed_input_names_file_line_and_field_without_traceback(tmp_path: Path) -> None:
    path = malformed(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "schedsight", "simulate", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        f"schedsight: error: {path}:3: field 4 (run_time): not a number: 'abc'"
    )


def test_skip_bad_reports_and_goes_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = malformed(tmp_path)
    assert main(["simulate", str(path), "--skip-bad", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["jobs"] == 1
    assert "skipped 1 malformed line" in captured.err


@pytest.mark.traces
def test_acceptance_command_on_lublin(traces_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = traces_dir / "lublin_256.swf"
    args = ["simulate", str(trace), "--procs", "256", "--policy", "fcfs", "--backfill", "none"]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out.keys() >= SUMMARY_KEYS
    assert out["jobs"] == 10_000

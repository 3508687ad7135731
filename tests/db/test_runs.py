"""Simulation runs: saved, reused, recomputed; interrupted runs end `failed`, never half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import RunStatus, Scenario, SimulationRun, Workload
from db.runs import get_run, list_runs, unpack_schedule
from db.scenarios import ScenarioSpec
from db.session import transaction
from hpc.model import Machine
from hpc.sim import Policy
from hpc.workload.loading import LoadedWorkload, load_workload
from hpc.workload.lublin import generate
from hpc.workload.swf import write_swf
from schedsight import storage
from schedsight.cli import main
from schedsight.storage import Store, run_and_save


@pytest.fixture(scope="module")
def trace_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("runs") / "w.swf"
    write_swf(generate(1500, seed=11, procs=64), path)
    return path


def spec_for(loaded: LoadedWorkload, policy: str = "fcfs:easy") -> ScenarioSpec:
    return ScenarioSpec(Policy.parse(policy), loaded.machine)


def counts(store: Store) -> tuple[int, int, int]:
    with transaction(store.sessions) as s:
        return tuple(  # type: ignore[return-value]
            s.execute(select(func.count()).select_from(m)).scalar_one()
            for m in (Workload, Scenario, SimulationRun)
        )


def test_a_saved_run_stores_metrics_breakdowns_and_schedule(store: Store, trace_file: Path) -> None:
    loaded = load_workload(trace_file)
    saved = run_and_save(store, loaded, spec_for(loaded))
    assert not saved.reused
    with transaction(store.sessions) as session:
        run = get_run(session, run_id=saved.run_id)
        assert run.status is RunStatus.SUCCEEDED
        assert run.metrics is not None and run.metrics["jobs"] == len(loaded.jobs)
        assert sum(r["jobs"] for r in run.per_user or []) == len(loaded.jobs)
        assert run.schedule is not None
        start, end = unpack_schedule(run.schedule)
        assert len(start) == len(end) == len(loaded.jobs)
        assert (end >= start).all()


def test_the_same_scenario_reuses_its_result_unless_asked(store: Store, trace_file: Path) -> None:
    loaded = load_workload(trace_file)
    first = run_and_save(store, loaded, spec_for(loaded))
    again = run_and_save(store, load_workload(trace_file), spec_for(loaded))
    assert again.reused and again.run_id == first.run_id
    assert again.metrics == first.metrics
    fresh = run_and_save(store, loaded, spec_for(loaded), recompute=True)
    assert not fresh.reused and fresh.run_id != first.run_id
    other = run_and_save(store, loaded, spec_for(loaded, "sjf:conservative"))
    assert other.scenario_id != first.scenario_id
    assert counts(store) == (1, 2, 3)


def test_a_failing_replay_is_marked_failed_with_its_reason(
    store: Store, trace_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(storage, "simulate", broken)
    loaded = load_workload(trace_file)
    with pytest.raises(RuntimeError):
        run_and_save(store, loaded, spec_for(loaded))
    with transaction(store.sessions) as session:
        (run,) = list_runs(session)
        assert run.status is RunStatus.FAILED
        assert run.error == "RuntimeError: disk on fire"
        assert run.metrics is None and run.schedule is None and run.finished_at is not None


def test_sigterm_mid_run_leaves_the_run_failed(db_url: str, tmp_path: Path) -> None:
    big = tmp_path / "big.swf"
    write_swf(generate(150_000, seed=2, procs=256), big)
    env = {**os.environ, "SCHEDSIGHT_DATABASE_URL": db_url}
    assert main_with_env(env, ["db", "upgrade"]) == 0
    args = [sys.executable, "-m", "schedsight", "simulate", str(big), "--save"]
    proc = subprocess.Popen(
        [*args, "--policy", "multifactor", "--backfill", "conservative"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    from db.session import make_engine, session_factory

    sessions = session_factory(make_engine(db_url))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with transaction(sessions) as s:
            if s.scalars(select(SimulationRun)).first() is not None:
                break
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    with transaction(sessions) as s:
        (run,) = s.scalars(select(SimulationRun)).all()
        assert run.status is RunStatus.FAILED
        assert "SIGTERM" in (run.error or "")
        assert run.metrics is None


def main_with_env(env: dict[str, str], argv: list[str]) -> int:
    proc = subprocess.run(
        [sys.executable, "-m", "schedsight", *argv], env=env, capture_output=True, check=False
    )
    return proc.returncode


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--policy", "lifo"], "unknown queue order"),
        (["--capacity", "fail@x:1"], "bad capacity change"),
    ],
)
def test_bad_options_write_nothing_and_lose_nothing(
    store: Store,
    trace_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", store.engine.url.render_as_string(False))
    assert main(["simulate", str(trace_file), "--save"]) == 0
    before = counts(store)
    capsys.readouterr()
    assert main(["simulate", str(trace_file), "--save", *extra]) == 2
    assert message in capsys.readouterr().err
    assert counts(store) == before == (1, 1, 1)


def test_a_workload_that_fails_to_parse_writes_nothing(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", store.engine.url.render_as_string(False))
    bad = tmp_path / "bad.swf"
    bad.write_text("; MaxProcs: 4\n1 0 -1 100 2 -1 -1 2 200 -1 1 1 1 -1 -1 -1 -1\n")
    assert main(["simulate", str(bad), "--save"]) == 2
    assert counts(store) == (0, 0, 0)


def test_cli_upgrade_save_list_show(
    db_url: str,
    trace_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The acceptance path: db upgrade on an empty database (SQLite migrates itself),
    simulate --save, runs list/show."""
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", db_url)
    if db_url.startswith("postgresql"):
        assert main(["runs", "list"]) == 2
        assert "schedsight db upgrade" in capsys.readouterr().err
    assert main(["db", "upgrade"]) == 0
    assert main(["simulate", str(trace_file), "--save", "--policy", "sjf"]) == 0
    assert "saved run 1" in capsys.readouterr().err
    assert main(["runs", "list"]) == 0
    listing = capsys.readouterr().out
    assert "sjf:easy" in listing and "succeeded" in listing and "w.swf" in listing
    assert main(["runs", "show", "1"]) == 0
    assert "mean_bsld" in capsys.readouterr().out
    assert main(["runs", "show", "99"]) == 2
    assert "no simulation run with id 99" in capsys.readouterr().err


def test_machine_spec_round_trips(trace_file: Path) -> None:
    spec = ScenarioSpec(Policy.parse("multifactor:conservative"), Machine.cluster(8, 16))
    assert ScenarioSpec.from_json(spec.to_json()) == spec

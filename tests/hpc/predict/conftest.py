"""A small loaded machine from the generator, and a predictor trained on its past."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpc.predict.history import History, history_of
from hpc.predict.predictor import Predictor
from hpc.predict.quantile import TreeParams
from hpc.workload.cleaning import clean, machine_for
from hpc.workload.loading import LoadedWorkload
from hpc.workload.lublin import LublinParams, generate
from hpc.workload.swf import write_swf
from hpc.workload.trace import SwfTrace

FAST = TreeParams(rounds=40)


@pytest.fixture(scope="session")
def busy_trace() -> SwfTrace:
    # Dense arrivals on 64 processors so that jobs actually queue.
    return generate(1000, seed=3, procs=64, params=LublinParams(interarrival_scale=0.5))


@pytest.fixture(scope="session")
def history(busy_trace: SwfTrace) -> History:
    machine = machine_for(busy_trace)
    jobs, report = clean(busy_trace, machine=machine)
    return history_of(LoadedWorkload(busy_trace, machine, jobs, report))


@pytest.fixture(scope="session")
def predictor(history: History) -> Predictor:
    return Predictor.train(history, history.split(0.7), FAST)


@pytest.fixture(scope="session")
def trace_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("predict") / "small.swf"
    write_swf(generate(500, seed=4, procs=64, params=LublinParams(interarrival_scale=0.5)), path)
    return path


@pytest.fixture(autouse=True)
def own_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands store trained models: in a SQLite file of each test, never the user's."""
    monkeypatch.setenv("SCHEDSIGHT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", "")

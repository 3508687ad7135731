"""Every Slurm release's JSON, 22.05 to 26.05, read from recordings (no Slurm needed).

The recordings (tests/hpc/slurm/data/releases/<release>/<version>/) come from the three real
clusters CI runs, made by `scripts/record-slurm-fixtures.py` with the same small workload
each time: fx-ok (exits 0), fx-fail (exits 3), fx-held, fx-array (3 tasks of 8 CPUs),
fx-gpu (1 GPU), fx-run and fx-after (afterok on fx-run). 24.11 and 26.05 still speak the
data versions of the releases between (23.11's v0.0.40 to 25.11's v0.0.44), so those are
recorded from them; 23.02's v0.0.39, which no Debian release ships, is written by hand after
the published shapes of 23.02.8 (see its README).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hpc.slurm import json_common
from hpc.slurm.dialects import BY_VERSION, DIALECTS, dialect_of
from hpc.slurm.errors import SlurmDataError
from hpc.slurm.state import LiveJob

RELEASES = Path(__file__).parent / "data" / "releases"
QUEUE = ("cli-squeue", "rest-jobs")
NODES = ("cli-sinfo", "cli-nodes", "rest-nodes")  # 22.05's sinfo; scontrol from 23.02
PARTITIONS = ("cli-partitions", "rest-partitions")
ACCOUNTING = ("cli-sacct", "rest-slurmdb-jobs")
PINGS = ("cli-ping", "rest-ping")


def _load(path: Path) -> Any:
    data = path.read_bytes()
    return json.loads(gzip.decompress(data) if path.suffix == ".gz" else data)


def _recordings(kinds: tuple[str, ...]) -> list[Any]:
    return list(_each_recording(kinds))


def _each_recording(kinds: tuple[str, ...]) -> Iterator[Any]:
    for folder in sorted(RELEASES.glob("*/v0.0.*")):
        for kind in kinds:
            for path in sorted(folder.glob(f"{kind}.json*")):
                if kind == "cli-sinfo" and folder.name != "v0.0.38":
                    continue  # 23.11+ sinfo lists node groups; nodes come from scontrol
                rel = path.relative_to(RELEASES)
                yield pytest.param(path, id=f"{rel.parts[0]}-{rel.parts[1]}-{kind}")


def _latest(jobs: list[Any], name: str) -> Any:
    """The workload's job of that name from the newest recording run (highest id)."""
    mine = [j for j in jobs if j.name == name and getattr(j, "array_task_id", None) in (None, 1)]
    assert mine, f"no {name} in the recording"
    return max(mine, key=lambda j: j.job_id)


def test_every_release_from_22_05_to_26_05_has_recordings_of_every_document() -> None:
    for dialect in DIALECTS:
        folders = list(RELEASES.glob(f"*/{dialect.version}"))
        assert folders, f"no recording of {dialect.version} (Slurm {dialect.release})"
        names = {p.name.split(".")[0] for folder in folders for p in folder.iterdir()}
        for kinds in (QUEUE, NODES, PARTITIONS, ACCOUNTING, PINGS):
            assert names & set(kinds), f"{dialect.version}: none of {kinds}"


@pytest.mark.parametrize("path", _recordings(QUEUE))
def test_queue(path: Path) -> None:
    doc = _load(path)
    dialect = dialect_of(doc, what=path.name)
    assert dialect.version == path.parent.name
    assert dialect.adapter.release(doc).startswith(path.parent.parent.name)
    jobs: list[LiveJob] = dialect.adapter.parse_jobs(doc)
    failed = _latest(jobs, "fx-fail")
    assert (failed.state, failed.exit_code, failed.signal) == ("FAILED", 3, None)
    assert failed.time_limit_s == 300 and failed.submit_s > 1_600_000_000
    assert _latest(jobs, "fx-ok").exit_code == 0
    held = _latest(jobs, "fx-held")
    assert held.held and held.reason == "JobHeldUser"
    task = _latest(jobs, "fx-array")
    assert task.array_job_id and task.display_id == f"{task.array_job_id}_1"
    assert task.cpus == 8
    assert _latest(jobs, "fx-gpu").gpus == 1
    assert _latest(jobs, "fx-after").dependency.startswith("afterok:")


@pytest.mark.parametrize("path", _recordings(NODES))
def test_nodes(path: Path) -> None:
    doc = _load(path)
    nodes = dialect_of(doc, what=path.name).adapter.parse_nodes(doc)
    assert len(nodes) in (4, 8)  # the chroot clusters have 4 nodes, the host's 8
    for node in nodes:
        assert node.cpus in (8, 16) and node.mem_mb in (32000, 64000)
        assert node.gpus in (2, 4) and node.gpu_type == "a100"
        assert node.state == node.state.lower() and "batch" in node.partitions


@pytest.mark.parametrize("path", _recordings(PARTITIONS))
def test_partitions(path: Path) -> None:
    doc = _load(path)
    parts = {p.name: p for p in dialect_of(doc, what=path.name).adapter.parse_partitions(doc)}
    assert {"batch", "gpu"} <= set(parts)
    assert parts["batch"].max_time_s == 2 * 86400 and parts["gpu"].max_time_s == 86400
    assert parts["batch"].state == "UP" and len(parts["batch"].nodes) in (4, 8)
    # The default flag exists in 22.05's JSON and again from 26.05's v0.0.45 only.
    has_flag = path.parent.name in ("v0.0.38", "v0.0.45")
    assert parts["batch"].default is has_flag and not parts["gpu"].default


@pytest.mark.parametrize("path", _recordings(ACCOUNTING))
def test_accounting(path: Path) -> None:
    doc = _load(path)
    records = dialect_of(doc, what=path.name).adapter.parse_accounting(doc)
    failed = _latest(records, "fx-fail")
    # 22.05 and 23.02 write a failed job's exit as SUCCESS/0: unknown, never a wrong 0.
    buggy = path.parent.name in ("v0.0.38", "v0.0.39")
    assert (failed.state, failed.exit_code) == ("FAILED", None if buggy else 3)
    ok = _latest(records, "fx-ok")
    assert (ok.state, ok.exit_code, ok.req_cpus, ok.time_limit_s) == ("COMPLETED", 0, 1, 300)
    assert ok.start_s and ok.end_s and ok.start_s <= ok.end_s
    assert _latest(records, "fx-gpu").req_gpus == 1
    task = _latest(records, "fx-array")
    assert task.array_job_id and task.array_task_id == 1
    times = [t for r in records for t in (r.submit_s, r.eligible_s, r.start_s, r.end_s) if t]
    assert all(1_600_000_000 < t < 2_500_000_000 for t in times)  # no NO_VAL as a time


@pytest.mark.parametrize("path", _recordings(PINGS))
def test_ping(path: Path) -> None:
    doc = _load(path)
    assert dialect_of(doc, what=path.name).adapter.controllers_up(doc)
    down = {**doc, "pings": [{**p, "pinged": "DOWN", "ping": "DOWN", "responding": False}
                             for p in doc["pings"]]}  # fmt: skip
    assert not dialect_of(doc, what=path.name).adapter.controllers_up(down)


def test_the_versions_recorded_are_exactly_those_schedsight_reads() -> None:
    recorded = {p.name for p in RELEASES.glob("*/v0.0.*")}
    assert recorded == set(BY_VERSION)


def test_23_02_signals_drains_and_raw_queue_exit_codes() -> None:
    folder = RELEASES / "23.02" / "v0.0.39"
    adapter = BY_VERSION["v0.0.39"].adapter
    records = adapter.parse_accounting(_load(folder / "rest-slurmdb-jobs.json"))
    killed = _latest(records, "fx-killed")
    assert (killed.exit_code, killed.signal) == (None, 9)
    nodes = {n.name: n for n in adapter.parse_nodes(_load(folder / "rest-nodes.json"))}
    assert nodes["m4"].flags == ("DRAIN",) and not nodes["m4"].available
    assert nodes["m1"].state == "allocated" and nodes["m3"].available
    assert adapter.release(_load(folder / "rest-jobs.json")) == "23.02.8"


def test_no_val_and_infinite_written_as_numbers_are_no_time() -> None:
    assert json_common.epoch(4294967294) is None and json_common.epoch(4294967295) is None
    assert json_common.epoch({"set": True, "infinite": False, "number": 0}) is None
    assert json_common.epoch(1796505205) == 1796505205


def test_a_document_of_an_unknown_version_names_what_schedsight_reads() -> None:
    doc = {"meta": {"plugin": {"data_parser": "data_parser/v0.0.46"},
                    "slurm": {"release": "26.11.0"}}}  # fmt: skip
    with pytest.raises(SlurmDataError, match=r"`squeue` speaks v0\.0\.46 \(Slurm 26\.11\.0\); "
                       r"this version of schedsight reads v0\.0\.38 to v0\.0\.45"):  # fmt: skip
        dialect_of(doc, what="`squeue`")

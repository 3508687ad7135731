"""The Slurm 22.05 JSON adapter against output recorded from the dev cluster (no Slurm needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hpc.slurm import json_common, json_v0038
from hpc.slurm.cli_backend import parse_duration_s, parse_partitions_text
from hpc.slurm.errors import SlurmCommandError, SlurmDataError
from hpc.slurm.hostlist import expand_hostlist

DATA = Path(__file__).parent / "data"
HOSTILE_NAME = "evil $(touch /tmp/sx/pwned) `id` ; rm -rf x\nline2"


def _load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def test_squeue_jobs_decode_raw_wait_status_and_keep_hostile_names() -> None:
    jobs = {j.job_id: j for j in json_v0038.parse_jobs(_load("squeue-22.05.json"))}
    failed = jobs[2]
    assert failed.state == "FAILED"
    assert failed.exit_code == 3  # squeue said 768: the raw wait status of `exit 3`
    assert failed.name == HOSTILE_NAME
    assert failed.comment == "c $(touch /tmp/sx/pwned2) \"q\" 's' \\ \nnl"
    assert failed.gpus == 2  # --gpus=2: tres_per_job gres:gpu:2
    assert failed.time_limit_s == 300
    held = jobs[4]
    assert held.held and held.reason_text.startswith("held by its user")
    assert held.exit_code is None and held.start_s is None
    task = jobs[1]
    assert (task.array_job_id, task.array_task_id, task.display_id) == (1, 3, "1_3")


def test_sinfo_nodes_with_fake_gpus() -> None:
    nodes = {n.name: n for n in json_v0038.parse_nodes(_load("sinfo-22.05.json"))}
    n5 = nodes["n5"]
    assert (n5.cpus, n5.mem_mb, n5.gpus, n5.gpu_type) == (16, 64000, 4, "a100")
    assert n5.partitions == ("batch", "gpu")
    assert n5.available


def test_sacct_failed_exit_reported_as_success_is_unknown_not_zero() -> None:
    records = {r.job_id: r for r in json_v0038.parse_accounting(_load("sacct-22.05.json"))}
    failed = records[2]
    assert failed.state == "FAILED"
    assert failed.exit_code is None  # 22.05 wrote {"status": "SUCCESS", "return_code": 0}
    assert failed.name == HOSTILE_NAME
    assert failed.wait_s == 1 and failed.run_s == 1
    assert failed.time_limit_s == 300
    assert records[5].exit_code == 0 and records[5].array_job_id == 1
    never_ran = records[3]
    assert never_ran.wait_s is None and not never_ran.started


def test_errors_in_json_are_raised() -> None:
    doc = {"meta": {}, "errors": [{"error": "Invalid job id specified"}], "jobs": []}
    with pytest.raises(SlurmCommandError, match="Invalid job id"):
        json_v0038.parse_jobs(doc)


def test_accounting_that_matched_nothing_is_empty_not_an_error() -> None:
    # 22.05's sacct --json on a cluster that has run no job yet (recorded on the dev cluster).
    doc = _load("sacct-22.05-nothing-found.json")
    assert doc["errors"][0]["error_number"] == json_common.EMPTY_RESULT
    assert json_v0038.parse_accounting(doc) == []
    with pytest.raises(SlurmCommandError, match="Nothing found"):
        json_v0038.parse_jobs(doc)  # the queue never answers that way: still an error
    other = {"meta": {}, "errors": [{"error": "Unable to connect to database"}], "jobs": []}
    with pytest.raises(SlurmCommandError, match="Unable to connect"):
        json_v0038.parse_accounting(other)


def test_numbers_from_newer_releases_are_read_too() -> None:
    assert json_common.num({"set": True, "infinite": False, "number": 7}) == 7
    assert json_common.num({"set": False, "number": 0}) is None
    assert json_common.num(None) is None


@pytest.mark.parametrize(
    ("tres", "gpus"),
    [("gres:gpu:2", 2), ("gres:gpu:a100:4", 4), ("cpu=1,gres/gpu=3,mem=1G", 3), ("", 0)],
)
def test_gpu_count(tres: str, gpus: int) -> None:
    assert json_common.gpu_count(tres) == gpus


def test_partitions_from_scontrol_text() -> None:
    text = (DATA / "scontrol-show-partition-22.05.txt").read_text()
    parts = {p.name: p for p in parse_partitions_text(text)}
    assert parts["batch"].default and parts["batch"].max_time_s == 2 * 86400
    assert parts["gpu"].nodes == ("n5", "n6", "n7", "n8")
    assert parts["debug"].max_time_s == 3600


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("UNLIMITED", None), ("1-00:00:00", 86400), ("01:00:00", 3600), ("5:30", 330), ("5", 300)],
)
def test_durations(text: str, seconds: int | None) -> None:
    assert parse_duration_s(text) == seconds


def test_hostlists() -> None:
    assert expand_hostlist("n[1-3,7],gpu01") == ["n1", "n2", "n3", "n7", "gpu01"]
    assert expand_hostlist("n[08-10]") == ["n08", "n09", "n10"]
    assert expand_hostlist("") == []
    assert expand_hostlist("r[1-2]n[01-02]") == ["r1n01", "r1n02", "r2n01", "r2n02"]
    with pytest.raises(SlurmDataError, match=r"cannot read host list 'n\[1-'"):
        expand_hostlist("n[1-")

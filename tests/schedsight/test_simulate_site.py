"""`schedsight simulate TRACE --site NAME`: a replay on a stored site, with per-partition
figures; a one-partition site gives the one-pool figures; bad names are one-line errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from db.session import sqlite_url, transaction
from db.sites import save_site
from db.store import Store
from hpc.site.model import NodeType, PartitionSpec, Site, Switch
from hpc.workload.lublin import generate
from hpc.workload.swf import write_swf
from schedsight.cli import main


@pytest.fixture
def trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCHEDSIGHT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", "")
    store = Store.open(sqlite_url(tmp_path / "schedsight.db"))
    two = Site(
        "two",
        {"c": NodeType("c", cores=32, mem_mb=0)},
        {f"n{i}": "c" for i in range(8)},
        (
            PartitionSpec("batch", tuple(f"n{i}" for i in range(8)), default=True),
            PartitionSpec("small", ("n0",)),
        ),
    )
    leaves = (Switch("s1", nodes=tuple(f"n{i}" for i in range(4))),
              Switch("s2", nodes=tuple(f"n{i}" for i in range(4, 8))),
              Switch("top", switches=("s1", "s2")))  # fmt: skip
    with transaction(store.sessions) as session:
        save_site(session, Site.one_partition(256, name="flat"))
        save_site(session, two)
        save_site(session, replace(two, name="tree", switches=leaves))
    store.engine.dispose()
    path = tmp_path / "w.swf"
    write_swf(generate(400, seed=3, procs=256), path)
    return path


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(list(argv)) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def _on(
    capsys: pytest.CaptureFixture[str], trace: Path, site: str, *more: str
) -> dict[str, object]:
    """`simulate TRACE --site SITE --json MORE...`'s JSON."""
    return _json(capsys, "simulate", str(trace), "--site", site, "--json", *more)


def test_a_one_partition_site_gives_the_one_pool_figures(
    trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pool = _json(capsys, "simulate", str(trace), "--procs", "256", "--json")
    site = _json(capsys, "simulate", str(trace), "--site", "flat", "--json")
    for key in ("jobs", "mean_wait_s", "p95_wait_s", "makespan_s", "mean_bsld"):
        assert site[key] == pool[key], key
    assert site["site"] == "site flat version 1"
    (row,) = site["partitions"]  # type: ignore[misc]
    assert row["partition"] == "all" and row["started"] == pool["jobs"]


def test_whole_nodes_of_a_multi_node_site_and_per_partition_rows(
    trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _json(capsys, "simulate", str(trace), "--site", "two@1", "--json")
    rows = {r["partition"]: r for r in out["partitions"]}  # type: ignore[union-attr]
    assert set(rows) == {"batch", "small"}
    assert rows["batch"]["jobs"] == out["jobs"] and rows["small"]["jobs"] == 0
    assert main(["simulate", str(trace), "--site", "two"]) == 0
    text = capsys.readouterr().out
    assert "on site two version 1 (8 nodes, 2 partitions)" in text and "small" in text


@pytest.mark.parametrize(
    ("site", "message"),
    [
        ("nosuch", "no site named 'nosuch' is stored (stored: flat, tree, two)"),
        ("two@x", "NAME@VERSION"),
        ("two@7", "version 7"),
    ],
)
def test_unknown_sites_are_one_line_errors(
    trace: Path, capsys: pytest.CaptureFixture[str], site: str, message: str
) -> None:
    assert main(["simulate", str(trace), "--site", site]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_what_if_changes_the_site_before_the_replay(
    trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _on(capsys, trace, "two")
    smaller = _on(capsys, trace, "two", "--change", "reserve n[0-3] from 0 for 6h")
    assert smaller["site"] == "site two version 1 with reserve n[0-3] from 0 for 6h"
    assert float(smaller["mean_wait_s"]) > float(base["mean_wait_s"])  # type: ignore[arg-type]
    fewer = _on(capsys, trace, "two", "--change", "remove 4 nodes from batch")
    assert int(fewer["unstarted"]) > int(base["unstarted"])  # type: ignore[call-overload]
    assert main(["simulate", str(trace), "--change", "add 1 node"]) == 2
    assert "give --site NAME too" in capsys.readouterr().err
    assert main(["simulate", str(trace), "--site", "two", "--change", "grow"]) == 2
    assert "cannot read site change 'grow'" in capsys.readouterr().err


def test_a_site_with_switches_places_jobs_by_topology_unless_told(
    trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    topo = _on(capsys, trace, "tree")
    plain = _on(capsys, trace, "tree", "--placement", "best-fit")
    assert (topo["placement"], plain["placement"]) == ("topology", "best-fit")
    (t_row, _), (p_row, _) = topo["partitions"], plain["partitions"]  # type: ignore[misc]
    assert t_row["multi_node"] > 0 and p_row["multi_node"] > 0
    assert 1.0 <= t_row["mean_leaf_switches"] < p_row["mean_leaf_switches"]
    assert main(["simulate", str(trace), "--site", "tree"]) == 0
    text = capsys.readouterr().out
    assert "topology placement" in text and "leaf switches" in text
    no_tree = _on(capsys, trace, "two")
    assert no_tree["placement"] == "best-fit"
    assert no_tree["partitions"][0]["mean_leaf_switches"] is None  # type: ignore[index]
    assert main(["simulate", str(trace), "--site", "two", "--placement", "topology"]) == 2
    assert "site 'two' has no switch tree" in capsys.readouterr().err
    assert main(["simulate", str(trace), "--placement", "topology"]) == 2
    assert "--placement places jobs on a site: give --site NAME too" in capsys.readouterr().err

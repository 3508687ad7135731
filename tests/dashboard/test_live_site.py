"""What is stored from a live cluster, as the live pages read it: its newest imported history,
its site, and what is missing said with the command that stores it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from dashboard.live_site import LiveHistory, cluster_site, live_workspace
from db.session import sqlite_url, transaction
from db.sites import save_site
from db.store import Store
from hpc.model import Machine
from tests.lab_site import lab_site, store_imported_history


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(sqlite_url(tmp_path / "s.db"))


def test_nothing_stored_names_both_imports(store: Store) -> None:
    history = LiveHistory.of(store, "dev")
    assert history.workload_id is None and history.site_label is None
    assert history.missing(site=False) == (
        "no history of dev is imported: run `schedsight slurm import`"
    )
    assert "run `schedsight site import`" in str(history.missing(site=True))
    assert cluster_site(store, "dev") is None
    with pytest.raises(ValueError, match="slurm import"):
        live_workspace(store, history, Machine.cluster(8, 32))


def test_the_newest_import_and_the_site_read_from_the_cluster(store: Store) -> None:
    store_imported_history(store, "dev", name="old")
    with transaction(store.sessions) as session:
        save_site(session, dataclasses.replace(lab_site(), source="slurm:dev:cli"))
    history = LiveHistory.of(store, "dev")
    assert (history.workload_id, history.site_label) == (1, "lab@1")
    assert history.workload_label == "workload 1 (old), 600 jobs"
    assert history.workload_key == "workload:1" and history.missing(site=True) is None
    assert LiveHistory.of(store, "other").missing(site=False) is not None  # not its history
    workspace = live_workspace(store, history, Machine.cluster(8, 32))
    assert len(workspace.jobs) > 500 and workspace.machine.nodes == 8
    assert workspace.site_label == "lab@1" and workspace.site is not None

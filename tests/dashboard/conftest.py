"""Fixtures: a fresh data directory (SQLite) and small workloads for every dashboard test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "schedsight" / "dashboard_app.py")
ADMIN_TOKEN = "test-admin-secret"


@pytest.fixture
def dash_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings for one test: its own SQLite database, 2000-job workloads, an admin secret."""
    monkeypatch.setenv("SCHEDSIGHT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", "")
    monkeypatch.setenv("SCHEDSIGHT_DASHBOARD_JOBS", "2000")
    monkeypatch.setenv("SCHEDSIGHT_ADMIN_TOKEN", ADMIN_TOKEN)
    # Cached resources (settings, the database) would outlive the test otherwise.
    st.cache_resource.clear()
    st.cache_data.clear()
    yield tmp_path / "data"
    st.cache_resource.clear()
    st.cache_data.clear()


def page(name: str) -> AppTest:
    """The app opened on one page (not run yet)."""
    at = AppTest.from_file(APP, default_timeout=60)
    if name != "overview":
        at.switch_page(f"../dashboard/views/{name}.py")
    return at

"""Fixtures shared by every test package: where the shared workload traces live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The traces are not part of the repository: they sit in ../shared/traces next to the checkout.
_DEFAULT_TRACES = Path(__file__).resolve().parents[1].parent / "shared" / "traces"


@pytest.fixture(scope="session")
def traces_dir() -> Path:
    """The shared SWF traces folder (`SCHEDSIGHT_TRACES_DIR` overrides); skips if absent."""
    override = os.environ.get("SCHEDSIGHT_TRACES_DIR")
    path = Path(override) if override else _DEFAULT_TRACES
    if not path.is_dir():
        pytest.skip(
            f"shared traces not found at {path}; they live in ../shared/traces next to the "
            "checkout (or set SCHEDSIGHT_TRACES_DIR)"
        )
    return path

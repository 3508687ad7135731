"""One table of backends and one of JSON dialects: every place that names them reads these."""

from __future__ import annotations

from typing import get_args

import pytest

from hpc.slurm import cli_backend, json_v0038, rest_backend
from hpc.slurm.backends import BACKENDS, BackendOptions, open_backend
from hpc.slurm.dialects import BY_API_VERSION, BY_PLUGIN, DIALECTS
from hpc.slurm.errors import SlurmError
from schedsight.settings import Settings


def test_settings_accept_exactly_the_backends_of_the_table() -> None:
    assert set(get_args(Settings.model_fields["slurm_backend"].annotation)) == set(BACKENDS)


def test_a_backend_opens_by_name_and_an_unknown_name_is_refused() -> None:
    assert open_backend("cli", BackendOptions(timeout_s=5)).name == "cli"
    with pytest.raises(SlurmError, match="unknown Slurm backend 'slurmctl'"):
        open_backend("slurmctl", BackendOptions())


def test_both_json_backends_read_the_one_dialect_table() -> None:
    assert cli_backend.ADAPTERS is BY_PLUGIN and rest_backend.ADAPTERS is BY_API_VERSION
    assert BY_PLUGIN["openapi/dbv0.0.38"] is json_v0038
    assert rest_backend.pick_version(["v0.0.36", "v0.0.38"]) == "v0.0.38"
    assert all(d.plugin_types for d in DIALECTS)

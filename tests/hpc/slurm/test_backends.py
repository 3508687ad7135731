"""One table of backends and one of JSON dialects: every place that names them reads these."""

from __future__ import annotations

from typing import get_args

import pytest

from hpc.slurm import json_v0038, rest_backend
from hpc.slurm.backends import BACKENDS, BackendOptions, open_backend
from hpc.slurm.dialects import BY_VERSION, DIALECTS, newest_known
from hpc.slurm.errors import SlurmDataError, SlurmError
from schedsight.settings import Settings


def test_settings_accept_exactly_the_backends_of_the_table() -> None:
    assert set(get_args(Settings.model_fields["slurm_backend"].annotation)) == set(BACKENDS)


def test_a_backend_opens_by_name_and_an_unknown_name_is_refused() -> None:
    assert open_backend("cli", BackendOptions(timeout_s=5)).name == "cli"
    with pytest.raises(SlurmError, match="unknown Slurm backend 'slurmctl'"):
        open_backend("slurmctl", BackendOptions())


def test_both_json_backends_pick_the_newest_version_both_sides_know() -> None:
    assert rest_backend.pick_version(["v0.0.36", "v0.0.37", "v0.0.38"]) == "v0.0.38"
    assert rest_backend.pick_version(["v0.0.40", "v0.0.41", "v0.0.42"]) == "v0.0.42"
    assert newest_known(["v0.0.45", "v0.0.43", "v0.0.46"], where="x").version == "v0.0.45"
    assert [d.release for d in DIALECTS] == [
        "22.05", "23.02", "23.11", "24.05", "24.11", "25.05", "25.11", "26.05"
    ]  # fmt: skip
    assert BY_VERSION["v0.0.38"].adapter is json_v0038


def test_a_version_none_of_which_schedsight_reads_names_both_sides() -> None:
    with pytest.raises(SlurmDataError) as caught:
        rest_backend.pick_version(["v0.0.46", "v0.0.47"], where="slurmrestd at unix:/x")
    assert str(caught.value) == (
        "slurmrestd at unix:/x offers v0.0.46, v0.0.47; this version of schedsight reads "
        "v0.0.38 to v0.0.45 (Slurm 22.05 to 26.05): upgrade schedsight, or ask Slurm for an "
        "older version if it still offers one"
    )


def test_openapi_paths_of_23_11_and_later_end_in_a_slash() -> None:
    paths = {"/slurm/v0.0.42/ping/": {}, "/slurm/v0.0.40/ping/": {}, "/slurmdb/v0.0.42/ping/": {}}
    assert rest_backend.offered_versions({"paths": paths}) == ["v0.0.40", "v0.0.42"]

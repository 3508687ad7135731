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


def test_the_cli_backend_runs_argument_vectors_through_the_prefix_and_names_the_cluster() -> None:
    import gzip
    import subprocess
    from pathlib import Path

    from hpc.slurm.cli_backend import CliBackend

    recorded = Path(__file__).parent / "data" / "releases" / "24.11" / "v0.0.42"
    seen: list[list[str]] = []

    def runner(argv, stdin, timeout_s):  # type: ignore[no-untyped-def]
        seen.append(list(argv))
        out = b"data_parser/v0.0.40\ndata_parser/v0.0.42\ndata_parser/v0.0.41\n"
        if "--json=list" not in argv:
            out = gzip.decompress((recorded / "cli-squeue.json.gz").read_bytes())
        return subprocess.CompletedProcess(argv, 0, out, b"")

    cli = CliBackend(prefix=("ssh", "login1"), cluster="c2", runner=runner)
    jobs = cli.jobs([7])
    assert seen == [
        ["ssh", "login1", "squeue", "--json=list"],
        ["ssh", "login1", "squeue", "--clusters=c2", "--json=v0.0.42", "--states=all", "--jobs=7"],
    ]
    assert [j.job_id for j in jobs] == [7]


def test_a_command_prefix_that_does_not_split_is_a_settings_error() -> None:
    from schedsight.settings import SettingsError

    with pytest.raises(SettingsError, match=r"SCHEDSIGHT_SLURM_COMMAND_PREFIX .* cannot be split"):
        Settings(slurm_command_prefix='ssh "login1')
    assert Settings(slurm_command_prefix="ssh -p 2222 'login 1'").command_prefix() == (
        "ssh", "-p", "2222", "login 1"
    )  # fmt: skip

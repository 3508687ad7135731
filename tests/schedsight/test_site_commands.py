"""`schedsight site import|show|list` end to end: the real dev cluster (Slurm 22.05 on this
machine) and the chroot releases through the command prefix, into a SQLite file in a
temporary data directory. User errors are one line on stderr with exit status 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schedsight.cli import main
from tests.hpc.slurm.conftest import RELEASES, Release, _skip_or_fail, _why_not_up, hold_cluster


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SQLite database and the settings a new user of the host's cluster has."""
    monkeypatch.setenv("SCHEDSIGHT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SCHEDSIGHT_DATABASE_URL", "")
    monkeypatch.setenv("SCHEDSIGHT_SLURM_BACKEND", "cli")
    monkeypatch.setenv("SCHEDSIGHT_SLURM_RETRIES", "1")
    for name in ("SCHEDSIGHT_SLURM_COMMAND_PREFIX", "SCHEDSIGHT_SLURM_CLUSTER"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def dev_cluster() -> str:
    """The host's dev cluster (Slurm 22.05): its name; skips (fails in CI) when it is down."""
    hold_cluster()  # one test session at a time drives the dev cluster
    _skip_or_fail(_why_not_up())
    return RELEASES[0].cli().cluster_name()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slurm
def test_import_prints_the_partitions_with_nodes_and_gpus(
    dev_cluster: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "site", "import")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"stored site {dev_cluster} version 1 (Slurm 22.05")
    assert "  batch (default): 8 nodes, 128 cores, 32 GPUs, max 48 h, tier 1" in lines
    assert "  gpu: 4 nodes, 64 cores, 16 GPUs, max 24 h, tier 1" in lines
    assert "  debug: 2 nodes, 32 cores, 8 GPUs, max 1 h, tier 1" in lines
    assert any(ln.startswith("total: 8 nodes") and ln.endswith(" 32 GPUs") for ln in lines)
    assert any(ln.startswith("QOS: ") and "normal" in ln for ln in lines)
    assert any(ln.startswith("priority: ") for ln in lines)


@pytest.mark.slurm
def test_import_again_then_show_and_list(
    dev_cluster: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, "site", "import", "--name", "dev")[0] == 0
    code, out, _ = _run(capsys, "site", "import", "--name", "dev", "--cluster", dev_cluster)
    assert code == 0 and out.startswith("unchanged: site dev version 1")
    code, out, _ = _run(capsys, "site", "show", "dev")
    assert code == 0 and out.startswith("site dev version 1 (Slurm 22.05")
    assert "  batch (default): 8 nodes, 128 cores, 32 GPUs, max 48 h, tier 1" in out
    code, out, _ = _run(capsys, "site", "show", "dev", "--version", "1", "--json")
    shown = json.loads(out)
    assert code == 0 and shown["version"] == 1 and shown["name"] == "dev"
    assert list(shown["nodes"]) == [f"n{i}" for i in range(1, 9)]
    assert [p["name"] for p in shown["partitions"]] == ["batch", "gpu", "debug"]
    code, out, _ = _run(capsys, "site", "list")
    (row,) = [ln.split() for ln in out.splitlines() if ln.startswith("dev ")]
    assert code == 0 and row[:3] == ["dev", "1", "1"] and row[3].startswith("22.05")


@pytest.mark.slurm
@pytest.mark.parametrize("release", RELEASES[1:], ids=lambda r: r.name)
def test_import_through_the_command_prefix(
    release: Release, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hold_cluster()
    _skip_or_fail(release.why_not_up())
    monkeypatch.setenv("SCHEDSIGHT_SLURM_COMMAND_PREFIX", " ".join(release.prefix))
    monkeypatch.setenv("SCHEDSIGHT_SLURM_BACKEND", "rest")  # the site is read by the tools
    code, out, err = _run(capsys, "site", "import")
    assert code == 0, err
    assert f"Slurm {release.name}" in out.splitlines()[0]
    gpus = release.nodes * release.gpus_per_node
    assert f"  batch (default): {release.nodes} nodes, 32 cores, {gpus} GPUs" in out
    assert "priority: multifactor: age 1000, fairshare 10000, job size 100" in out
    assert "read through the Slurm command-line tools" in err


def test_nothing_stored_yet(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "site", "list")
    assert code == 0 and "no sites stored yet" in out


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["site", "show", "nowhere"], {}, "no site named 'nowhere' is stored (stored: none yet)"),
        (["site", "show", "x", "--version", "0"], {}, "'0' is not a version number"),
        (["site", "import", "--name", "a/b"], {}, "'a/b' is not a site name"),
        (
            ["site", "import"],
            {"SCHEDSIGHT_SLURM_COMMAND_PREFIX": "no-such-program --x"},
            "the command prefix 'no-such-program --x' cannot run",
        ),
        (
            ["site", "import"],
            {"SCHEDSIGHT_SLURM_COMMAND_PREFIX": "chroot /no/such/root"},
            "reading the site: Slurm did not answer after 1 attempt(s)",
        ),
    ],
)
def test_user_errors_are_one_line_exit_2(
    argv: list[str],
    env: dict[str, str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        code: object = main(argv)
    except SystemExit as exc:  # argparse's own one-line errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.slurm
def test_an_unknown_version_says_which_there_are(
    dev_cluster: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, "site", "import")[0] == 0
    code, _, err = _run(capsys, "site", "show", dev_cluster, "--version", "9")
    assert code == 2 and f"site '{dev_cluster}' has no version 9 (it has 1 to 1)" in err

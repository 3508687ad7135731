"""Fair-share usage from sshare: recorded output of every supported release parsed, then
`read_site` on the real clusters carrying it on the associations, and a site read where
sshare cannot run still stored, with one line saying fair-share starts from zero."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hpc.site.model import Association
from hpc.slurm.cli_backend import CliBackend
from hpc.slurm.errors import SlurmDataError
from hpc.slurm.site_reader import read_site
from hpc.slurm.sshare_text import SSHARE_FORMAT, ShareRow, parse_sshare, with_usage
from tests.hpc.slurm.conftest import Release

DATA = Path(__file__).parent / "data"


# ---------------------------------------------------------------- recorded output
def test_22_05_under_priority_basic_has_no_shares_and_no_usage() -> None:
    """The dev cluster runs priority/basic: NormShares prints empty, usage stays 0."""
    rows = parse_sshare((DATA / "sshare-22.05.txt").read_text())
    assert rows["physics", None] == ShareRow("physics", None, None, 0.0)
    assert rows["physics", "slurmrest"] == ShareRow("physics", "slurmrest", None, 0.0)
    assert len(rows) == 8 and ("root", None) in rows


@pytest.mark.parametrize("release", ["24.11", "26.05"])
def test_multifactor_releases_report_normalised_shares(release: str) -> None:
    """The chroot clusters (priority/multifactor): three children of root share equally,
    root is each account's only user. (Recorded with no usage accrued yet: the decay
    thread had not charged the jobs run; usage numbers are read as in the next test.)"""
    rows = parse_sshare((DATA / f"sshare-{release}.txt").read_text())
    assert rows["physics", None].norm_shares == pytest.approx(1 / 3)
    assert rows["physics", "root"] == ShareRow("physics", "root", 1.0, 0.0)
    assert rows["root", None].norm_shares == 0.0 and len(rows) == 6


def test_the_cluster_line_and_blank_lines_are_skipped_and_bad_columns_named() -> None:
    text = "CLUSTER: big\nroot|||0.000000|7230\n physics||40|0.400000|7230\n\n"
    physics = parse_sshare(text)["physics", None]
    assert (physics.norm_shares, physics.raw_usage) == (0.4, 7230.0)
    with pytest.raises(SlurmDataError, match="not the columns"):
        parse_sshare("physics|alice|1\n")
    with pytest.raises(SlurmDataError, match="not a number"):
        parse_sshare("physics|alice|1|lots|10\n")


def test_usage_lands_on_the_associations_sshare_lists() -> None:
    rows = parse_sshare(" physics||1|0.5|30\n  physics|alice|1|1.0|30\n")
    tree = (Association("physics", shares=1), Association("physics", "alice"),
            Association("physics", "bob"))  # fmt: skip
    account, alice, bob = with_usage(tree, rows)
    assert (account.raw_usage, account.norm_shares) == (30.0, 0.5)
    assert (alice.raw_usage, alice.norm_shares) == (30.0, 1.0)
    assert bob.raw_usage is None and bob.norm_shares is None  # not listed: not read


# ---------------------------------------------------------------- live, every release
@pytest.mark.slurm
def test_read_site_carries_each_associations_usage(release: Release) -> None:
    site = read_site(release.cli())
    listed = parse_sshare(release.run("sshare", "-a", "-P", "-n", "-o", SSHARE_FORMAT).stdout)
    assert site.associations
    for a in site.associations:
        row = listed[a.account, a.user]
        assert a.raw_usage is not None and a.raw_usage >= 0
        assert abs(a.raw_usage - row.raw_usage) <= max(0.1 * row.raw_usage, 1.0)  # decays
    accounts = [a for a in site.associations if a.user is None and a.parent is None]
    if release.suite is None:  # scripts/slurm-dev-cluster.sh: priority/basic, no shares
        assert all(a.norm_shares is None for a in site.associations)
    else:  # multifactor: root's children share the machine
        shares = [a.norm_shares or 0.0 for a in accounts]
        assert all(s > 0 for s in shares) and sum(shares) <= 1.0 + 1e-6


@pytest.mark.slurm
def test_without_sshare_the_site_is_read_and_one_line_says_fair_share_starts_at_zero(
    slurm_cluster: str, tmp_path: Path
) -> None:
    """The real tools on a PATH that has every one of them but sshare."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("scontrol", "sacctmgr"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    warnings: list[str] = []
    backend = CliBackend(prefix=("env", f"PATH={bin_dir}"))
    site = read_site(backend, on_warning=warnings.append)
    assert site.associations and all(a.raw_usage is None for a in site.associations)
    (warning,) = warnings
    assert warning.startswith("no fair-share usage: sshare failed")
    assert warning.endswith("a replay's fair-share starts from zero") and "\n" not in warning

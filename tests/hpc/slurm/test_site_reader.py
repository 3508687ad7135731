"""Reading a site from Slurm: the text parsers on literal output, then `read_site` on every
supported release (22.05 on the host, 24.11 and 26.05 in chroots), no Slurm command faked.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from hpc.site.model import Association, BackfillParams, Scheduling, Switch
from hpc.slurm.cli_backend import CliBackend
from hpc.slurm.errors import SlurmDataError
from hpc.slurm.site_reader import read_site
from hpc.slurm.site_text import (
    parse_associations,
    parse_backfill,
    parse_config,
    parse_gres,
    parse_nodes,
    parse_partition_specs,
    parse_qos,
    parse_reservations,
    parse_scheduling,
    parse_switches,
    parse_tres,
    parse_weights,
    scontrol_fields,
)
from tests.hpc.slurm.conftest import Release

NODE = (
    "NodeName={name} Arch=x86_64 CPUTot={cpus} AvailableFeatures={features} "
    "ActiveFeatures={features} Gres={gres} OS=Linux 6.18.44 #1 SMP PREEMPT_DYNAMIC @0  "
    "RealMemory={mem} State=IDLE Reason=Not responding [slurm@2026-12-05T21:02:25]"
)


# ---------------------------------------------------------------- text, literal
def test_a_value_with_spaces_stays_whole() -> None:
    fields = scontrol_fields(NODE.format(name="n1", cpus=16, features="(null)", gres="x", mem=1))
    assert fields["OS"] == "Linux 6.18.44 #1 SMP PREEMPT_DYNAMIC @0"
    assert fields["Reason"] == "Not responding [slurm@2026-12-05T21:02:25]"
    assert fields["RealMemory"] == "1"


@pytest.mark.parametrize(
    ("text", "tres"),
    [
        ("cpu=256,gres/gpu=8", {"cpu": 256, "gres/gpu": 8}),
        ("node=4,mem=64G", {"node": 4, "mem": 65536}),
        ("cpu=16,mem=62.50G,billing=16", {"cpu": 16, "mem": 64000, "billing": 16}),
        ("mem=1T", {"mem": 1024**2}),
        ("mem=512M,gres/gpu:a100=2", {"mem": 512, "gres/gpu:a100": 2}),
        ("CPU=1000,Mem=2000,GRES/gpu=3000", {"cpu": 1000, "mem": 2000, "gres/gpu": 3000}),
        ("", {}),
        ("(null)", {}),
    ],
)
def test_tres_strings(text: str, tres: dict[str, int]) -> None:
    assert parse_tres(text) == tres


@pytest.mark.parametrize("text", ["cpu", "cpu=lots", "=4"])
def test_a_malformed_tres_string_is_named(text: str) -> None:
    with pytest.raises(SlurmDataError, match="TRES"):
        parse_tres(text)


@pytest.mark.parametrize(
    ("gres", "gpus"),
    [
        ("gpu:a100:4", (4, "a100")),
        ("gpu:a100:4(S:0)", (4, "a100")),
        ("gpu:a100:4(S:0,1),shard:8", (4, "a100")),
        ("gpu:2", (2, None)),
        ("gpu:a100:no_consume:2", (2, "a100")),
        ("gpu:v100:2(S:1),gpu:a100:2(S:0)", (4, "a100+v100")),
        ("mps:100", (0, None)),
        ("(null)", (0, None)),
    ],
)
def test_gres_gpus_and_type(gres: str, gpus: tuple[int, str | None]) -> None:
    assert parse_gres(gres) == gpus


def test_scheduler_parameters() -> None:
    given = "bf_continue,bf_window=2880,bf_resolution=600,bf_max_job_test=1000,bf_interval=5"
    assert parse_backfill(given) == BackfillParams(
        window_s=2880 * 60, resolution_s=600, max_job_test=1000, interval_s=5
    )
    assert parse_backfill("(null)") == BackfillParams()
    assert parse_backfill("bf_interval=5,default_queue_depth=100").interval_s == 5
    with pytest.raises(SlurmDataError, match="bf_window"):
        parse_backfill("bf_window=1d")


CONFIG = """Configuration data as of 2026-12-05T21:36:55
ClusterName             = big
PriorityDecayHalfLife   = 14-00:00:00
PriorityFavorSmall      = yes
PriorityMaxAge          = 1-00:00:00
PriorityType            = priority/multifactor
PriorityWeightAge       = 1000
PriorityWeightFairShare = 10000
PriorityWeightJobSize   = 100
PriorityWeightPartition = 500
PriorityWeightQOS       = 2000
PriorityWeightTRES      = CPU=1,GRES/gpu=3000
SchedulerParameters     = bf_window=2880,bf_continue
"""


def test_multifactor_weights_from_the_config() -> None:
    weights = parse_weights(parse_config(CONFIG))
    assert (weights.age, weights.fairshare, weights.job_size) == (1000, 10000, 100)
    assert (weights.partition, weights.qos) == (500, 2000)
    assert weights.tres == {"cpu": 1, "gres/gpu": 3000}
    assert (weights.max_age_s, weights.decay_half_life_s) == (86400, 14 * 86400)
    assert weights.favor_small and weights.multifactor


def test_another_priority_plugin_has_no_weights() -> None:
    basic = parse_config(CONFIG.replace("priority/multifactor", "priority/basic"))
    assert not parse_weights(basic).multifactor


def test_nodes_group_into_types_named_after_what_they_offer() -> None:
    lines = [
        NODE.format(name="a1", cpus=16, features="(null)", gres="gpu:a100:4(S:0)", mem=64000),
        NODE.format(name="a2", cpus=16, features="(null)", gres="gpu:a100:4(S:0)", mem=64000),
        NODE.format(name="c1", cpus=64, features="ib,avx512", gres="(null)", mem=256000),
        NODE.format(name="a3", cpus=16, features="fast", gres="gpu:a100:4", mem=64000),
    ]
    nodes = parse_nodes("\n".join(lines))
    assert list(nodes) == ["a1", "a2", "c1", "a3"]
    assert {n: t.name for n, t in nodes.items()} == {
        "a1": "c16-m64000-a100x4",
        "a2": "c16-m64000-a100x4",
        "c1": "c64-m256000-avx512+ib",
        "a3": "c16-m64000-a100x4-fast",
    }
    assert nodes["c1"].features == ("avx512", "ib") and nodes["c1"].gpus == 0


def test_partitions_with_tiers_qos_and_all_nodes() -> None:
    text = (
        "PartitionName=big AllowQos=high,normal Default=NO MaxTime=UNLIMITED Nodes=ALL "
        "PriorityJobFactor=10 PriorityTier=2 State=DRAIN\n"
        "PartitionName=small AllowQos=ALL Default=YES MaxTime=00:30:00 Nodes=n[1-2] "
        "PriorityJobFactor=1 PriorityTier=1 State=UP\n"
        "PartitionName=empty Nodes=(null) MaxTime=1-00:00:00\n"
    )
    big, small, empty = parse_partition_specs(text, ("n1", "n2", "n3"))
    assert big.nodes == ("n1", "n2", "n3") and big.max_time_s is None
    assert (big.priority_tier, big.priority_job_factor, big.state) == (2, 10, "DRAIN")
    assert big.allow_qos == ("high", "normal") and not big.default
    assert small.nodes == ("n1", "n2") and small.max_time_s == 1800 and small.default
    assert small.allow_qos == () and empty.nodes == () and empty.max_time_s == 86400


def test_reservations_in_local_time_and_maintenance() -> None:
    text = (
        "ReservationName=maint StartTime=2030-01-01T00:00:00 EndTime=2030-01-01T04:00:00 "
        "Duration=04:00:00 Nodes=n[1-2] Flags=MAINT,IGNORE_JOBS,SPEC_NODES TRES=cpu=32\n"
        "ReservationName=course StartTime=2030-02-01T09:00:00 EndTime=2030-02-01T17:00:00 "
        "Nodes=n3 Flags=SPEC_NODES Users=alice\n"
    )
    maint, course = parse_reservations(text)
    assert maint.start_s == int(datetime(2030, 1, 1).timestamp())
    assert maint.end_s - maint.start_s == 4 * 3600 and maint.nodes == ("n1", "n2")
    assert maint.maintenance and not course.maintenance and course.nodes == ("n3",)
    assert parse_reservations("No reservations in the system\n") == ()


def test_switch_tree() -> None:
    text = (
        "SwitchName=s0 Level=0 LinkSpeed=1 Nodes=n[1-4]\n"
        "SwitchName=s1 Level=0 LinkSpeed=1 Nodes=n[5-8]\n"
        "SwitchName=top Level=1 LinkSpeed=1 Nodes=n[1-8] Switches=s[0-1]\n"
    )
    assert parse_switches(text) == (
        Switch("s0", (), ("n1", "n2", "n3", "n4")),
        Switch("s1", (), ("n5", "n6", "n7", "n8")),
        Switch("top", ("s0", "s1"), ()),
    )
    assert parse_switches("") == ()


def test_qos_limits() -> None:
    text = "normal|0|||||\nlong|100|7-00:00:00|cpu=256,gres/gpu=8|node=4|gres/gpu=16|5\n"
    qos = parse_qos(text)
    assert qos["normal"].max_wall_s is None and qos["normal"].max_tres_per_user == {}
    long = qos["long"]
    assert (long.priority, long.max_wall_s, long.max_jobs_per_user) == (100, 7 * 86400, 5)
    assert long.max_tres_per_user == {"cpu": 256, "gres/gpu": 8}
    assert long.max_tres_per_account == {"node": 4} and long.grp_tres == {"gres/gpu": 16}
    with pytest.raises(SlurmDataError, match="columns"):
        parse_qos("normal|0\n")


def test_associations_below_root() -> None:
    text = (
        "root|||1|normal|\n"
        "root|root||1|normal|\n"
        "physics||root|40|normal,long|normal\n"
        "theory||physics|10|normal|\n"
        "theory|alice||parent|normal|\n"
    )
    assert parse_associations(text) == (
        Association("root", "root", None, 1, ("normal",)),
        Association("physics", None, None, 40, ("normal", "long"), "normal"),
        Association("theory", None, "physics", 10, ("normal",)),
        Association("theory", "alice", None, 1, ("normal",)),
    )


# ---------------------------------------------------------------- live, every release
@pytest.fixture
def test_qos(release: Release) -> Iterator[str]:
    """A QOS with limits, added to the release's slurmdbd for one test and removed after."""
    name = "sstest"
    release.run("sacctmgr", "-i", "delete", "qos", name)
    added = release.run(
        "sacctmgr", "-i", "add", "qos", name, "Priority=100", "MaxWall=12:00:00",
        "MaxTRESPerUser=cpu=256,gres/gpu=8", "GrpTRES=gres/gpu=16", "MaxJobsPerUser=5",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    try:
        yield name
    finally:
        release.run("sacctmgr", "-i", "delete", "qos", name)


@pytest.fixture
def maintenance(release: Release) -> Iterator[str]:
    """A maintenance reservation far in the future on the first node, removed after."""
    name = "ssmaint"
    release.run("scontrol", "delete", f"reservationname={name}")
    node = "n1" if release.suite is None else "m1"
    made = release.run(
        "scontrol", "create", "reservation", f"reservationname={name}",
        "starttime=2030-01-01T00:00:00", "duration=120", f"nodes={node}", "users=root",
        "flags=maint",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    try:
        yield node
    finally:
        release.run("scontrol", "delete", f"reservationname={name}")


@pytest.mark.slurm
def test_read_site_on_every_release(release: Release, test_qos: str, maintenance: str) -> None:
    site = read_site(release.cli())
    assert site.release.startswith(release.name)
    assert site.name == release.cli().cluster_name()
    assert site.totals() == {
        "nodes": release.nodes,
        "cores": release.nodes * (16 if release.suite is None else 8),
        "mem_mb": release.nodes * (64000 if release.suite is None else 32000),
        "gpus": release.nodes * release.gpus_per_node,
    }
    (kind,) = site.node_types.values()
    assert kind.gpu_type == "a100" and kind.gpus == release.gpus_per_node
    batch = site.partition(None)
    assert batch.name == "batch" and batch.max_time_s == 2 * 86400
    assert batch.nodes == tuple(site.nodes)
    assert site.partition("gpu").max_time_s == 86400
    qos = site.qos[test_qos]
    assert (qos.priority, qos.max_wall_s, qos.max_jobs_per_user) == (100, 12 * 3600, 5)
    assert qos.max_tres_per_user == {"cpu": 256, "gres/gpu": 8}
    assert qos.grp_tres == {"gres/gpu": 16} and "normal" in site.qos
    accounts = {a.account for a in site.associations if a.user is None}
    assert {"physics", "chemistry"} <= accounts
    assert all(a.parent is None for a in site.associations if a.account == "physics")
    (maint,) = site.reservations
    assert maint.maintenance and maint.nodes == (maintenance,)
    assert maint.end_s - maint.start_s == 7200 and time.localtime(maint.start_s).tm_year == 2030
    assert site.switches == ()  # no release here has topology/tree
    if release.suite is None:  # scripts/slurm-dev-cluster.sh: priority/basic, bf_interval=5
        assert not site.weights.multifactor and site.backfill.interval_s == 5
    else:  # scripts/slurm-chroot-cluster.sh: multifactor
        weights = site.weights
        assert (weights.age, weights.fairshare, weights.job_size) == (1000, 10000, 100)


@pytest.mark.slurm
def test_the_cluster_flag_and_prefix_apply(release: Release) -> None:
    cluster = release.cli().cluster_name()
    site = read_site(CliBackend(prefix=release.prefix, cluster=cluster), name="twin")
    assert site.name == "twin" and site.source == f"slurm:{cluster}:cli"
    assert len(site.nodes) == release.nodes


@pytest.mark.slurm
def test_without_slurmdbd_the_site_has_no_qos_and_says_why(
    slurm_cluster: str, tmp_path: Path
) -> None:
    """The real sacctmgr, pointed at a port where no slurmdbd listens."""
    conf = tmp_path / "slurm"
    shutil.copytree("/etc/slurm", conf)
    text = (conf / "slurm.conf").read_text()
    lines = [ln for ln in text.splitlines() if not ln.startswith("AccountingStoragePort")]
    (conf / "slurm.conf").write_text("\n".join([*lines, "AccountingStoragePort=1", ""]))
    warnings: list[str] = []
    backend = CliBackend(prefix=("env", f"SLURM_CONF={conf / 'slurm.conf'}"))
    site = read_site(backend, on_warning=warnings.append)
    assert site.qos == {} and site.associations == ()
    assert len(site.nodes) == 8 and site.totals()["gpus"] == 32
    (warning,) = warnings
    assert "no QOS or associations" in warning and "Connection refused" in warning


def test_scheduling_and_the_limits_a_site_enforces() -> None:
    config = {"SchedulerType": "sched/backfill", "AccountingStorageEnforce": "associations"}
    assert parse_scheduling(config) == Scheduling("sched/backfill", ("associations",))
    assert not parse_scheduling(config).limits_enforced
    safe = parse_scheduling({"AccountingStorageEnforce": "associations,limits,qos,safe"})
    assert safe.limits_enforced and safe.backfills
    assert parse_scheduling({"AccountingStorageEnforce": "none"}).enforce == ()

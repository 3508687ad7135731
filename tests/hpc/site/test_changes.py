"""What-ifs as site changes: each verb on a small site, the switch tree, and clear errors."""

from __future__ import annotations

import pytest

from hpc.errors import SiteError
from hpc.site.changes import FOREVER, apply_changes, parse_change, seconds
from hpc.site.model import NodeType, PartitionSpec, QosSpec, Site, Switch
from hpc.site.topology import nodes_below, switch_graph

SITE = Site(
    "s",
    {"cpu": NodeType("cpu", cores=8, mem_mb=0), "gpu": NodeType("gpu", cores=8, mem_mb=0, gpus=4)},
    {"c1": "cpu", "c2": "cpu", "c3": "cpu", "g1": "gpu", "g2": "gpu"},
    (PartitionSpec("batch", ("c1", "c2", "c3"), default=True), PartitionSpec("gpu", ("g1", "g2"))),
    qos={"normal": QosSpec("normal")},
    switches=(
        Switch("top", switches=("s1", "s2")),
        Switch("s1", nodes=("c1", "c2")),
        Switch("s2", nodes=("c3", "g1", "g2")),
    ),
)


def _apply(*texts: str) -> Site:
    return apply_changes(SITE, [parse_change(t) for t in texts])


def test_add_nodes_of_the_partitions_type_or_a_given_one() -> None:
    site = _apply("add 2 nodes to gpu")
    assert site.partition("gpu").nodes == ("g1", "g2", "gpu-new1", "gpu-new2")
    assert site.totals("gpu")["gpus"] == 16 and site.totals()["nodes"] == 7
    assert _apply("add 1 node of gpu to batch").totals("batch")["gpus"] == 4


def test_remove_and_move_nodes() -> None:
    site = _apply("remove 1 node from batch")
    assert site.partition("batch").nodes == ("c1", "c2") and "c3" not in site.nodes
    moved = _apply("move 1 node from gpu to batch")
    assert moved.partition("gpu").nodes == ("g1",)
    assert moved.partition("batch").nodes == ("c1", "c2", "c3", "g2")


def test_qos_limits_and_priority_weights() -> None:
    site = _apply("qos normal MaxTRESPU=cpu=64,gres/gpu=4", "qos long MaxWall=2-00:00:00",
                  "weight fairshare=5000")  # fmt: skip
    assert site.qos["normal"].max_tres_per_user == {"cpu": 64, "gres/gpu": 4}
    assert site.qos["long"].max_wall_s == 2 * 86400
    assert site.weights.fairshare == 5000 and site.weights.multifactor


def test_reservations_on_a_partition_or_a_host_list() -> None:
    site = _apply("reserve gpu from 2d for 4h", "reserve c[1-2] from 30m for 60")
    first, second = site.reservations
    assert (first.nodes, first.start_s, first.end_s) == (("g1", "g2"), 172800, 172800 + 14400)
    assert (second.nodes, second.start_s, second.end_s) == (("c1", "c2"), 1800, 1860)


def test_a_failed_switch_takes_its_subtree_out_from_then_on() -> None:
    assert nodes_below(SITE, "top") == ("c1", "c2", "c3", "g1", "g2")
    assert nodes_below(SITE, "s2") == ("c3", "g1", "g2")
    assert switch_graph(SITE).number_of_edges() == 7
    (failed,) = _apply("fail switch s1 at 1h").reservations
    assert (failed.nodes, failed.start_s, failed.end_s) == (("c1", "c2"), 3600, FOREVER)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("grow the cluster", "cannot read site change"),
        ("add four nodes", "cannot read site change"),
        ("add 2 nodes to bigmem", "no partition 'bigmem'"),
        ("remove 9 nodes from gpu", "has 2 nodes, not 9"),
        ("fail switch s9", "no switch 's9'"),
        ("weight speed=3", "choose one of"),
        ("reserve x[1-2] from 0 for 1h", "no such nodes"),
    ],
)
def test_bad_changes_say_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(SiteError, match=message):
        _apply(text)


def test_times_take_units() -> None:
    assert [seconds(t) for t in ("90", "30m", "4h", "2d")] == [90, 1800, 14400, 172800]
    with pytest.raises(SiteError, match="not a time"):
        seconds("soon")

"""`agent ask --site`: a question read by a table into what-if change lines, then answered
with the site replay's per-partition figures; a question it cannot read lists the grammar."""

from __future__ import annotations

import pytest

from agent.errors import ToolError, UnreadableQuestion
from agent.modes.site_ask import ask_site, read_changes, read_policy
from agent.tools.workspace import Workspace
from hpc.site.whatif import generated_site_workload
from hpc.timetext import span_text
from tests.lab_site import lab_site


@pytest.mark.parametrize(
    ("question", "lines"),
    [
        ("what if the gpu partition gets 4 more nodes?", ["add 4 nodes to gpu"]),
        ("cap the long QOS at 256 cores per user", ["qos long MaxTRESPU=cpu=256"]),
        ("limit the normal qos to 8 gpus per account", ["qos normal MaxTRESPA=gres/gpu=8"]),
        ("fail switch s1", ["fail switch s1"]),
        ("what if switch s0 fails after 2 hours?", ["fail switch s0 at 2h"]),
        ("a reservation of partition gpu for 4 hours from 48h", ["reserve gpu from 48h for 4h"]),
        ("reserve the batch partition from 2 days for 1 week", ["reserve batch from 2d for 7d"]),
        ("what if we retire 2 nodes from batch?", ["remove 2 nodes from batch"]),
        ("move 2 nodes from the batch partition to gpu", ["move 2 nodes from batch to gpu"]),
        ("set the fair-share weight to 5000", ["weight fairshare=5000"]),
        ("Add 4 nodes to the gpu partition and lose switch s1 in 6h",
         ["add 4 nodes to gpu", "fail switch s1 at 6h"]),
        ("add 4 nodes to gpu; qos long MaxTRESPU=cpu=256",  # the grammar itself
         ["add 4 nodes to gpu", "qos long MaxTRESPU=cpu=256"]),
    ],
)  # fmt: skip
def test_the_reader_turns_questions_into_grammar_lines(question: str, lines: list[str]) -> None:
    assert read_changes(question) == lines


def test_a_question_it_cannot_read_lists_examples_and_the_grammar() -> None:
    with pytest.raises(UnreadableQuestion) as caught:
        read_changes("what if we lost 16 nodes next week?")
    message = str(caught.value)
    assert "gpu partition gets 4 more nodes" in message
    assert "move N nodes from P to P" in message


def test_the_policy_is_the_one_named_or_the_default() -> None:
    assert read_policy("under sjf with conservative backfill, add 2 nodes", "fcfs:easy") == (
        "sjf:conservative"
    )
    assert read_policy("add 2 nodes to gpu", "multifactor:easy") == "multifactor:easy"


def test_ask_site_answers_per_partition_from_the_replays() -> None:
    site = lab_site()
    workspace = Workspace.for_site(site, "lab@1", generated_site_workload(300, 2, site))
    result = ask_site("what if the gpu partition gets 4 more nodes?", workspace)
    assert result.changes == ["add 4 nodes to gpu"] and result.policy == "fcfs:easy"
    first, overall, changed, *partitions = result.answer.splitlines()
    assert overall.startswith("  overall as it is: mean wait")
    jobs = sum(r["jobs"] for r in result.figures["partitions"])
    unstarted = result.figures["overall"]["after"]["unstarted"]
    assert f"over {jobs - unstarted} started jobs" in changed
    assert first.startswith("On site lab@1") and first.endswith("changed by: add 4 nodes to gpu")
    gpu = next(r for r in result.figures["partitions"] if r["partition"] == "gpu")
    assert f"mean wait {span_text(gpu['mean_wait_s_before'])} ->" in partitions[1]
    assert result.record.action["changes"] == ["add 4 nodes to gpu"]
    assert result.record.chosen_by == "rules" and result.record.verdict["verdict"] == "accepted"
    with pytest.raises(ToolError, match="no partition 'gpux'"):
        ask_site("add 4 nodes to gpux", workspace)


@pytest.mark.parametrize(
    ("question", "lines"),
    [
        ("what if we add 8 GPUs?", ["add 2 nodes of gpu to gpu"]),
        ("what if 4 gpus are removed from the gpu partition?", ["remove 1 nodes from gpu"]),
        ("what if the short qos allowed only 10 running jobs per user?",
         ["qos short MaxJobsPU=10"]),
        ("PriorityWeightAge=3000", ["weight age=3000"]),
    ],
)  # fmt: skip
def test_a_typed_scenario_becomes_grammar_lines_for_the_site(
    question: str, lines: list[str]
) -> None:
    site = lab_site()
    workspace = Workspace.for_site(site, "lab@1", generated_site_workload(120, 2, site))
    assert ask_site(question, workspace).changes == lines


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("what if we add 6 GPUs?", "not whole gpu nodes"),
        ("what if we got 20% more jobs?", "not more or fewer"),
        ("what if users had perfect runtime estimates?", "requested times as submitted"),
        ("add 2 nodes to gpu next week", "starts later or ends"),
    ],
)
def test_what_a_site_replay_cannot_simulate_is_refused(question: str, message: str) -> None:
    site = lab_site()
    workspace = Workspace.for_site(site, "lab@1", generated_site_workload(50, 2, site))
    with pytest.raises(UnreadableQuestion, match=message):
        ask_site(question, workspace)

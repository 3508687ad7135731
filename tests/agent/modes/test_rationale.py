"""Rationales: the model's words are kept only when every number they quote was simulated."""

from __future__ import annotations

from agent.guard import Guard
from agent.modes.rationale import Grounds, write_rationales
from agent.records import DecisionRecord
from tests.agent.conftest import content

START = Grounds(
    now_s=3600, chosen="start job 17", plan="rollout:sjf", job_id=17, nodes=2, run_s=1800,
    waited_s=300, metrics={"mean_wait": 1200.4, "makespan": 9000.0, "mean_bsld": 1.5, "jain": 0.9},
    alternative="wait", alt_metrics={"mean_wait": 1500.0, "makespan": 9100.0, "mean_bsld": 2.0,
                                     "jain": 0.8},
)  # fmt: skip
ONLY = Grounds(now_s=4000, chosen="wait", plan="fcfs:easy", metrics=dict(START.metrics))


def _records(n: int) -> list[DecisionRecord]:
    return [DecisionRecord("q", {"kind": "wait"}, "", {}, {"verdict": "accepted"}, "search")
            for _ in range(n)]  # fmt: skip


def test_the_template_quotes_the_figures_and_passes_the_check() -> None:
    for g in (START, ONLY):
        text = g.template("mean_wait")
        assert Guard.check_rationale(text, g.figures()).accepted, text
    assert START.template("mean_wait") == (
        "t=3,600 s: start job 17 (2 nodes, runs 1,800 s, waited 300 s): mean wait 1,200 s, "
        "makespan 9,000 s; next best, wait: mean wait 1,500 s, makespan 9,100 s "
        "(look-ahead plan rollout:sjf)."
    )


def _write(recorded, text: str) -> tuple[list[DecisionRecord], object]:  # type: ignore[no-untyped-def]
    llm, _ = recorded([content(f'{{"rationale": "{text}"}}')])
    records = _records(2)
    stats = write_rationales(records, [START, ONLY], llm, objective="mean_wait", goal="low wait",
                             batch_size=4, max_calls=2, guard=Guard())  # fmt: skip
    return records, stats


def test_a_right_or_rounded_rationale_is_kept(recorded) -> None:  # type: ignore[no-untyped-def]
    text = "Starting job 17 now gives a mean wait of 20 min against 25 min, 20% less."
    records, stats = _write(recorded, text)
    assert records[0].rationale == text and records[0].verdict["rationale"]["by"] == "llm"
    assert stats.by_model == 1 and stats.calls == 1  # type: ignore[attr-defined]
    # The decision with nothing else to do is not sent to the model.
    assert records[1].verdict["rationale"] == {"by": "template"}


def test_a_wrong_number_is_replaced_by_the_template_and_recorded(recorded) -> None:  # type: ignore[no-untyped-def]
    text = "Starting job 17 cuts the mean wait to 900 s."
    records, stats = _write(recorded, text)
    assert records[0].rationale == START.template("mean_wait")
    how = records[0].verdict["rationale"]
    assert how["by"] == "template" and how["model_text"] == text
    assert how["mismatches"] == ["quoted '900 s', which no simulated figure matches"]
    assert stats.replaced == 1 and stats.by_model == 0  # type: ignore[attr-defined]


def test_a_refused_model_pick_stays_in_the_rationale(recorded) -> None:  # type: ignore[no-untyped-def]
    llm, _ = recorded([content('{"rationale": "Job 17 first: mean wait 1,200 s."}')])
    records = _records(1)
    records[0].verdict["refused"] = ["option 9 does not exist"]
    write_rationales(records, [START], llm, objective="mean_wait", goal="low wait",
                     batch_size=4, max_calls=1, guard=Guard())  # fmt: skip
    assert records[0].rationale == (
        "Job 17 first: mean wait 1,200 s; the model's pick was refused: option 9 does not exist"
    )


def test_a_rationale_quoting_no_figure_is_replaced(recorded) -> None:  # type: ignore[no-untyped-def]
    # The embedded model's words for tiny-10-s0, seen in a run.
    records, stats = _write(recorded, "Temporal Reconfiguration of a Job Scheduling Algorithm")
    assert records[0].rationale == START.template("mean_wait")
    assert records[0].verdict["rationale"]["mismatches"] == [
        "it quotes none of the simulated figures"
    ]
    assert stats.replaced == 1  # type: ignore[attr-defined]

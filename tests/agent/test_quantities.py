"""Numbers in a rationale are read with their units and the precision they were written with."""

from __future__ import annotations

from agent.quantities import Figure, Kind, quantities, unmatched


def test_times_are_read_in_seconds_with_compound_units_joined() -> None:
    found = quantities("mean wait 2 h 05 min, then 7,500 s, 125 min and 1.5 h")
    assert [(q.value, q.kind) for q in found] == [
        (7500.0, Kind.TIME), (7500.0, Kind.TIME), (7500.0, Kind.TIME), (5400.0, Kind.TIME),
    ]  # fmt: skip
    assert found[0].text == "2 h 05 min" and found[0].metric == "wait"
    assert found[0].tolerance == 30.0  # half a minute: the last unit quoted
    assert found[3].tolerance == 180.0  # 0.05 h


def test_percentages_counts_and_bare_numbers_keep_their_kind() -> None:
    found = quantities("start job 17 (8 nodes): fairness 93%, slowdown 1.23")
    assert [(q.text, q.kind, q.metric) for q in found] == [
        ("17", Kind.PLAIN, "job"),
        ("8 nodes", Kind.COUNT, None),
        ("93%", Kind.PERCENT, "fairness"),
        ("1.23", Kind.PLAIN, "slowdown"),
    ]


def test_digits_inside_a_word_are_not_numbers() -> None:
    assert quantities("p95 of job-set s0 under CP-SAT") == []


def test_two_times_in_the_same_unit_stay_two() -> None:
    assert [q.value for q in quantities("1,200 s and 1,500 s")] == [1200.0, 1500.0]


def test_a_number_after_a_metric_word_must_be_a_figure_of_that_metric() -> None:
    figures = [
        Figure("mean wait", 1200, Kind.TIME, "wait"),
        Figure("makespan", 9000, Kind.TIME, "makespan"),
    ]
    assert unmatched("mean wait 1,200 s, makespan 9,000 s", figures) == []
    wrong = unmatched("makespan 1,200 s", figures)
    assert [q.text for q in wrong] == ["1,200 s"]  # a true number, named as the wrong metric


def test_a_number_right_after_job_is_a_job_id_and_times_make_a_ratio() -> None:
    found = quantities("job 17 waits 2.5 times less than jobs #3, 3x")
    assert [(q.text, q.kind, q.metric) for q in found] == [
        ("17", Kind.PLAIN, "job"),
        ("2.5 times", Kind.RATIO, "wait"),
        ("3", Kind.PLAIN, "job"),
        ("3x", Kind.RATIO, None),
    ]
    ids = [Figure("job id", 3, Kind.PLAIN, "job")]
    assert [q.text for q in unmatched("job 3 needs 3 nodes", ids)] == ["3 nodes"]

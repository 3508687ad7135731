"""SWF reading and writing: what is accepted, what is refused and how, and exact round-trips."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hpc.errors import SwfParseError, WorkloadError
from hpc.workload.swf import FIELD_MAX, parse_swf, read_swf, swf_from_records, write_swf
from hpc.workload.trace import COL, FLOAT_FIELDS, N_FIELDS, SWF_FIELDS, SwfHeader, SwfTrace

GOOD = "1 0 10 100 4 95.5 -1 4 200 -1 1 7 3 -1 2 1 -1 -1"
GOOD_VALUES = [1, 0, 10, 100, 4, 95.5, -1, 4, 200, -1, 1, 7, 3, -1, 2, 1, -1, -1]
HEADER = "; Version: 2.2\n; MaxProcs: 128\n"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in an empty folder, so that messages name files as plainly as `trace.swf`."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_reads_every_field_of_every_record(in_tmp: Path) -> None:
    write_text(in_tmp / "trace.swf", HEADER + GOOD + "\n" + GOOD.replace("1 0 10", "2 5 0", 1))
    trace = read_swf("trace.swf")
    assert len(trace) == 2
    assert trace.records.shape == (2, N_FIELDS)
    assert trace.records[0].tolist() == GOOD_VALUES
    assert trace.column("submit_time").tolist() == [0, 5]
    assert trace.line_numbers.tolist() == [3, 4]
    assert trace.source == "trace.swf"
    assert trace.skipped_count == 0


def test_header_keys_keep_file_order_and_free_comments_are_kept() -> None:
    text = (
        "; Version: 2.2\n"
        "; Computer: IBM SP2\n"
        ";              http://www.cs.huji.ac.il/labs/parallel/workload/\n"
        ";\n"
        "; MaxNodes: 100\n"
        "; StartTime: Mon Sep 23 14:00:31 CEST 1996\n"
        ";       The filter used was: job<=14\n" + GOOD
    )
    header = parse_swf(text).header
    assert list(header.keys) == ["Version", "Computer", "MaxNodes", "StartTime"]
    assert header.keys["StartTime"] == "Mon Sep 23 14:00:31 CEST 1996"
    assert header.max_nodes == 100
    # Indented continuation lines are comments even when they hold a colon.
    assert header.comments == [
        "             http://www.cs.huji.ac.il/labs/parallel/workload/",
        "",
        "      The filter used was: job<=14",
    ]


def test_repeated_header_keys_keep_every_value_one_per_line() -> None:
    text = "; MaxPartitions: 2\n; Partition:  1 DEFAULT \n; Partition:  2 ALL\n" + GOOD
    assert parse_swf(text).header.keys["Partition"] == "1 DEFAULT\n2 ALL"


def test_fields_may_be_separated_by_tabs_and_runs_of_spaces() -> None:
    text = GOOD.replace(" ", "\t") + "\n" + GOOD.replace(" ", "   ") + "\n"
    assert parse_swf(text).records.tolist() == [GOOD_VALUES, GOOD_VALUES]


def test_integer_only_and_fractional_records_read_alike() -> None:
    """Integer-only traces take numpy's fast integer reader; any fraction, exponent or
    value beyond int64 sends the chunk to the float reader, with the same values."""
    integers = GOOD.replace("95.5", "95")
    assert parse_swf(integers + "\n").records.tolist() == [[*GOOD_VALUES[:5], 95, *GOOD_VALUES[6:]]]
    mixed = parse_swf(integers + "\n" + GOOD.replace("95.5", "9.55e1") + "\n").records
    assert mixed.dtype == np.float64
    assert mixed[:, 5].tolist() == [95.0, 95.5]


def test_line_numbers_count_every_physical_line() -> None:
    text = "; Version: 2.2\r\n\r\n" + GOOD + "\r\n   \n; a comment\n" + GOOD + "\n\n"
    trace = parse_swf(text)
    assert trace.line_numbers.tolist() == [3, 6]
    assert trace.records[1].tolist() == GOOD_VALUES


@pytest.mark.parametrize("name", ["trace.swf.gz", "trace.swf"])
def test_gzip_is_recognised_by_its_magic_bytes_whatever_the_name(in_tmp: Path, name: str) -> None:
    (in_tmp / name).write_bytes(gzip.compress((HEADER + GOOD + "\n").encode()))
    trace = read_swf(name)
    assert trace.records[0].tolist() == GOOD_VALUES
    assert trace.header.max_procs == 128


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (GOOD.rsplit(" ", 1)[0], "trace.swf:3: expected 18 fields, found 17"),
        (GOOD + " 0", "trace.swf:3: expected 18 fields, found 19"),
        (GOOD.replace(" 100 ", " abc "), "trace.swf:3: field 4 (run_time): not a number: 'abc'"),
        (GOOD.replace(" 100 ", " nan "), "trace.swf:3: field 4 (run_time): not a number: 'nan'"),
        (GOOD.replace(" 100 ", " 1_00 "), "trace.swf:3: field 4 (run_time): not a number: '1_00'"),
        (
            GOOD.replace(" 100 4 ", " 100 2.5 "),
            "trace.swf:3: field 5 (allocated_procs): not an integer: '2.5' "
            "(only fields 6 and 7 may have fractions)",
        ),
        (
            GOOD.replace(" 10 ", " -5 "),
            "trace.swf:3: field 3 (wait_time): negative value '-5' "
            "(the only negative allowed is -1, meaning unknown)",
        ),
        (
            GOOD.replace(" 95.5 ", " -0.5 "),
            "trace.swf:3: field 6 (avg_cpu_time): negative value '-0.5' "
            "(the only negative allowed is -1, meaning unknown)",
        ),
    ],
)
def test_a_malformed_line_is_reported_as_file_line_field_and_reason(
    in_tmp: Path, line: str, message: str
) -> None:
    write_text(in_tmp / "trace.swf", f"; Version: 2.2\n{GOOD}\n{line}\n{GOOD}\n")
    with pytest.raises(SwfParseError) as caught:
        read_swf("trace.swf")
    assert str(caught.value) == message
    assert caught.value.line == 3


@pytest.mark.parametrize(
    ("field", "token", "rule"),
    [
        (4, "1e308", "a time is at most 4,294,967,296 s (136 years)"),
        (4, "99999999999999999999", "a time is at most 4,294,967,296 s (136 years)"),
        (2, "4294967297", "a time is at most 4,294,967,296 s (136 years)"),
        (5, "100000001", "a processor count is at most 100,000,000"),
        (7, "1e20", "a memory size is at most 17,179,869,184 KB (16 TiB) per processor"),
        (1, "1e19", "a number is at most 9,007,199,254,740,992 (exact in a float64)"),
        (
            12,
            "9223372036854775808",
            "a number is at most 9,007,199,254,740,992 (exact in a float64)",
        ),
    ],
)
def test_values_beyond_their_field_range_are_refused_not_corrupted(
    field: int, token: str, rule: str
) -> None:
    # Before: 1e308 became INT64_MIN in the int64 columns and was reported as "run time <= 0".
    fields = GOOD.split()
    fields[field - 1] = token
    name = SWF_FIELDS[field - 1]
    text = f"{GOOD}\n{' '.join(fields)}\n"
    with pytest.raises(SwfParseError) as caught:
        parse_swf(text, source="t.swf")
    assert (
        str(caught.value) == f"t.swf:2: field {field} ({name}): {token!r} is out of range: {rule}"
    )
    assert len(parse_swf(text, source="t.swf", skip_bad=True)) == 1


def test_the_largest_value_of_each_field_is_read_exactly() -> None:
    top = [float(m) for m in FIELD_MAX]
    trace = swf_from_records([top])
    assert trace.records[0].tolist() == top
    with pytest.raises(SwfParseError, match="out of range"):
        swf_from_records([[m + 1 if i == 3 else m for i, m in enumerate(top)]])


def test_parse_error_carries_the_field_number_and_name() -> None:
    with pytest.raises(SwfParseError) as caught:
        parse_swf(GOOD.replace(" 100 ", " x "), source="t.swf")
    error = caught.value
    assert (error.path, error.line, error.field, error.name) == ("t.swf", 1, 4, "run_time")
    assert error.reason == "not a number: 'x'"


def test_the_first_malformed_line_in_the_file_is_reported() -> None:
    # Line 70,001 is past the first bulk-parsed chunk; line 70,003 is worse but later.
    lines = [GOOD] * 70_005
    lines[70_000] = GOOD.replace(" 4 ", " 4.5 ", 1)
    lines[70_002] = "1 2 3"
    with pytest.raises(SwfParseError, match=r"^big\.swf:70001: field 5 "):
        parse_swf("\n".join(lines), source="big.swf")


def test_skip_bad_leaves_malformed_lines_out_and_says_which() -> None:
    bad = [GOOD.replace(" 100 ", f" x{i} ") for i in range(7)]
    text = "\n".join([GOOD, *bad, GOOD.replace(" 4 ", " 4.5 ", 1), GOOD])
    trace = parse_swf(text, source="t.swf", skip_bad=True)
    assert len(trace) == 2
    assert trace.line_numbers.tolist() == [1, 10]
    assert trace.skipped_count == 8
    assert trace.skipped == [
        f"t.swf:{i + 2}: field 4 (run_time): not a number: 'x{i}'" for i in range(5)
    ]


def test_missing_file_is_a_workload_error(in_tmp: Path) -> None:
    with pytest.raises(WorkloadError, match=r"^nope\.swf: no such file$"):
        read_swf("nope.swf")


def test_a_directory_is_not_a_trace(in_tmp: Path) -> None:
    (in_tmp / "dir.swf").mkdir()
    with pytest.raises(WorkloadError, match="is a directory"):
        read_swf("dir.swf")


@pytest.mark.parametrize("text", ["", "\n\n", HEADER, "; Version: 2.2\n;\n\n"])
def test_a_file_without_jobs_is_a_workload_error(in_tmp: Path, text: str) -> None:
    write_text(in_tmp / "empty.swf", text)
    with pytest.raises(WorkloadError, match=r"^empty\.swf: no job records found"):
        read_swf("empty.swf")


def test_a_file_of_only_bad_lines_is_an_error_even_when_skipping() -> None:
    with pytest.raises(
        WorkloadError, match=r"all 2 record lines are malformed \(first: t\.swf:1: "
    ):
        parse_swf("1 2 3\n4 5 6\n", source="t.swf", skip_bad=True)


def test_damaged_gzip_and_binary_files_are_refused(in_tmp: Path) -> None:
    (in_tmp / "cut.swf.gz").write_bytes(gzip.compress((GOOD + "\n").encode() * 100)[:40])
    with pytest.raises(WorkloadError, match=r"^cut\.swf\.gz: damaged gzip file"):
        read_swf("cut.swf.gz")
    (in_tmp / "binary.swf").write_bytes(b"\x00\x01\x02" * 10)
    with pytest.raises(WorkloadError, match=r"^binary\.swf: binary data"):
        read_swf("binary.swf")


def test_write_prints_integers_plainly_and_fractions_exactly(in_tmp: Path) -> None:
    header = SwfHeader(keys={"Version": "2.2", "Partition": "1 a\n2 b"}, comments=["note", ""])
    write_swf(swf_from_records([GOOD_VALUES], header), "out.swf")
    assert (in_tmp / "out.swf").read_text().splitlines() == [
        "; Version: 2.2",
        "; Partition: 1 a",
        "; Partition: 2 b",
        "; note",
        ";",
        GOOD,
    ]


@pytest.mark.parametrize("name", ["out.swf", "out.swf.gz"])
def test_write_then_read_gives_back_the_same_trace(in_tmp: Path, name: str) -> None:
    text = HEADER + ";   indented note\n; Partition: 1 a\n; Partition: 2 b\n" + GOOD + "\n"
    original = parse_swf(text.replace("95.5", "0.1"))
    write_swf(original, name)
    back = read_swf(name)
    assert np.array_equal(back.records, original.records)
    assert back.header == original.header


def test_gzip_output_is_the_same_bytes_every_time(in_tmp: Path) -> None:
    trace = swf_from_records([GOOD_VALUES])
    write_swf(trace, "a.swf.gz")
    write_swf(trace, "b.swf.gz")
    assert (in_tmp / "a.swf.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert (in_tmp / "a.swf.gz").read_bytes() == (in_tmp / "b.swf.gz").read_bytes()


def test_write_refuses_records_that_would_not_read_back(in_tmp: Path) -> None:
    records = np.array([GOOD_VALUES], dtype=np.float64)
    records[0, COL["requested_procs"]] = 2.5
    trace = SwfTrace(SwfHeader(), records, np.array([1]))
    with pytest.raises(WorkloadError, match=r"^cannot write out\.swf: record 1, field 8 "):
        write_swf(trace, "out.swf")
    assert not (in_tmp / "out.swf").exists()


def test_swf_from_records_checks_shape_and_values() -> None:
    trace = swf_from_records(np.array([GOOD_VALUES, GOOD_VALUES]))
    assert trace.line_numbers.tolist() == [1, 2]
    assert trace.header == SwfHeader()
    with pytest.raises(WorkloadError, match=r"shape \(n, 18\), got \(1, 17\)"):
        swf_from_records([GOOD_VALUES[:17]])
    with pytest.raises(SwfParseError, match=r"^<memory>:1: field 2 \(submit_time\): negative"):
        swf_from_records([[1, -3, *GOOD_VALUES[2:]]])


def _values(field: int) -> st.SearchStrategy[float]:
    """Any value field `field` may hold: -1 or within its range, fractions where allowed."""
    top = FIELD_MAX[field]
    if field not in FLOAT_FIELDS:
        return st.integers(min_value=-1, max_value=top).map(float)
    fractions = st.floats(min_value=0, max_value=top, allow_nan=False, allow_subnormal=False)
    return st.one_of(st.just(-1.0), fractions)


@st.composite
def _records(draw: st.DrawFn) -> np.ndarray:
    rows = draw(st.integers(min_value=1, max_value=20))
    columns = [draw(arrays(np.float64, rows, elements=_values(i))) for i in range(N_FIELDS)]
    return np.column_stack(columns)


@settings(max_examples=60, deadline=None)
@given(records=_records())
def test_any_valid_records_survive_a_write_read_round_trip(records: np.ndarray) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "round.swf"
        write_swf(swf_from_records(records, SwfHeader(keys={"MaxProcs": "64"})), path)
        back = read_swf(path)
    assert np.array_equal(back.records, records)
    assert back.header.keys == {"MaxProcs": "64"}

"""Read and write Standard Workload Format files (plain or gzip) as `SwfTrace`s.

Parsing is strict by default: a malformed line raises `SwfParseError` naming file:line and field.
"""

from __future__ import annotations

import gzip
import math
import re
import zlib
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hpc.errors import SwfParseError, WorkloadError
from hpc.workload.trace import COL, FLOAT_FIELDS, N_FIELDS, SWF_FIELDS, SwfHeader, SwfTrace

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MAX_SKIPPED_SHOWN = 5  # messages kept on the trace when skip_bad=True
_CHUNK_LINES = 65_536  # one bad line sends only its chunk down the slow per-line path
_GZIP_MAGIC = b"\x1f\x8b"
# `; Key: value`; a colon right after the key with whitespace (or nothing) behind it, so that
# indented continuation lines such as `;     http://...` stay free comments.
_HEADER_KEY = re.compile(r";\s?([A-Za-z][\w.-]*):(?:\s+(.*))?$")
# The numbers numpy's bulk parser accepts, minus nan/inf: the slow path must agree with it.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER_COLUMN = np.array([i not in FLOAT_FIELDS for i in range(N_FIELDS)])
# The largest value each field may hold. Records become int64 columns and the simulator
# multiplies times by processors (and memory by processors) in int64, so each kind of field
# has a bound whose products stay far inside int64; ids only need to be exact in a float64.
_TIME_FIELDS = ("submit_time", "wait_time", "run_time", "avg_cpu_time", "requested_time",
                "think_time")  # fmt: skip
_BOUNDS: dict[str, tuple[int, str]] = {
    "time": (2**32, "a time is at most 4,294,967,296 s (136 years)"),
    "procs": (100_000_000, "a processor count is at most 100,000,000"),
    "memory": (2**34, "a memory size is at most 17,179,869,184 KB (16 TiB) per processor"),
    "id": (2**53, "a number is at most 9,007,199,254,740,992 (exact in a float64)"),
}
_KIND = {
    **{COL[n]: "time" for n in _TIME_FIELDS},
    **{COL[n]: "procs" for n in ("allocated_procs", "requested_procs")},
    **{COL[n]: "memory" for n in ("used_memory", "requested_memory")},
}
_FIELD_BOUND = [_BOUNDS[_KIND.get(i, "id")] for i in range(N_FIELDS)]
FIELD_MAX: tuple[int, ...] = tuple(bound for bound, _ in _FIELD_BOUND)  # by field index
_MAX_VALUE = np.array(FIELD_MAX, dtype=np.float64)
_FRACTION_FIELDS = " and ".join(str(i + 1) for i in sorted(FLOAT_FIELDS))


def read_swf(path: str | Path, *, skip_bad: bool = False) -> SwfTrace:
    """Read an SWF file (gzip detected by its magic bytes).

    Malformed lines raise `SwfParseError`; with `skip_bad` they are left out and counted in
    `trace.skipped_count`, the first few messages in `trace.skipped`.
    """
    return parse_swf(_read_text(Path(path)), source=str(path), skip_bad=skip_bad)


def parse_swf(text: str, *, source: str = "<string>", skip_bad: bool = False) -> SwfTrace:
    """Parse SWF text; `source` names it in error messages. See `read_swf`."""
    header = SwfHeader()
    lines: list[str] = []
    numbers: list[int] = []
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped[0] == ";":
            _add_header_line(header, stripped)
        else:
            lines.append(stripped)
            numbers.append(number)
    records, line_numbers, errors = _parse_records(lines, numbers, source, skip_bad)
    if len(records) == 0:
        if errors:
            raise WorkloadError(
                f"{source}: no valid job records: all {len(errors):,} record lines are "
                f"malformed (first: {errors[0]})"
            )
        raise WorkloadError(
            f"{source}: no job records found; an SWF file needs one line of "
            f"{N_FIELDS} numbers per job after its `;` header lines"
        )
    return SwfTrace(
        header=header,
        records=records,
        line_numbers=line_numbers,
        source=source,
        skipped_count=len(errors),
        skipped=[str(e) for e in errors[:MAX_SKIPPED_SHOWN]],
    )


def write_swf(trace: SwfTrace, path: str | Path) -> None:
    """Write header keys, then comments, then one line per record; a `.gz` suffix gzips."""
    path = Path(path)
    problem = _first_value_problem(trace.records, trace.source)
    if problem is not None:
        raise WorkloadError(
            f"cannot write {path}: record {problem.line}, field {problem.field} "
            f"({problem.name}): {problem.reason}"
        )
    out = [
        f"; {key}: {value}".rstrip()
        for key, joined in trace.header.keys.items()
        for value in joined.split("\n")
    ]
    out += [f"; {comment}" if comment else ";" for comment in trace.header.comments]
    out += _record_lines(trace.records)
    data = ("\n".join(out) + "\n").encode("utf-8")
    if path.suffix.lower() == ".gz":
        data = gzip.compress(data, compresslevel=6, mtime=0)  # mtime 0: same trace, same bytes
    try:
        path.write_bytes(data)
    except OSError as e:
        raise WorkloadError(f"cannot write {path}: {e.strerror or e}") from e


def swf_from_records(records: npt.ArrayLike, header: SwfHeader | None = None) -> SwfTrace:
    """A trace built in memory (by a generator, say); records are (n, 18), one row per job.

    Line numbers are the row numbers (1-based); the values are checked as a file's would be.
    """
    array = np.array(records, dtype=np.float64, ndmin=2)
    if array.ndim != 2 or array.shape[1] != N_FIELDS:
        raise WorkloadError(f"SWF records must have shape (n, {N_FIELDS}), got {array.shape}")
    problem = _first_value_problem(array, "<memory>")
    if problem is not None:
        raise problem
    lines = np.arange(1, len(array) + 1, dtype=np.int64)
    return SwfTrace(header=header or SwfHeader(), records=array, line_numbers=lines)


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise WorkloadError(f"{path}: no such file") from e
    except IsADirectoryError as e:
        raise WorkloadError(f"{path}: is a directory, not an SWF file") from e
    except OSError as e:
        raise WorkloadError(f"{path}: cannot read the file: {e.strerror or e}") from e
    if data.startswith(_GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise WorkloadError(f"{path}: damaged gzip file ({e}); check the download") from e
    if b"\x00" in data[:4096]:
        raise WorkloadError(f"{path}: binary data, not SWF text (plain or gzip-compressed)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # old logs with non-UTF-8 header text; records are ASCII


def _add_header_line(header: SwfHeader, line: str) -> None:
    match = _HEADER_KEY.match(line)
    if match is None:
        comment = line[1:]
        header.comments.append(comment[1:] if comment.startswith(" ") else comment)
        return
    key, value = match.group(1), (match.group(2) or "").strip()
    # Keys such as `Partition` repeat, one line per partition: keep every value, in order.
    previous = header.keys.get(key)
    header.keys[key] = value if previous is None else f"{previous}\n{value}"


def _parse_records(
    lines: list[str], numbers: list[int], source: str, skip_bad: bool
) -> tuple[FloatArray, npt.NDArray[np.int64], list[SwfParseError]]:
    blocks: list[FloatArray] = []
    keeps: list[BoolArray] = []
    errors: list[SwfParseError] = []
    for start in range(0, len(lines), _CHUNK_LINES):
        chunk = lines[start : start + _CHUNK_LINES]
        chunk_numbers = numbers[start : start + _CHUNK_LINES]
        values = _bulk_parse(chunk)
        if values is None:
            values, keep, chunk_errors = _parse_slowly(chunk, chunk_numbers, source)
        else:
            keep = np.ones(len(chunk), dtype=np.bool_)
            chunk_errors = []
            for i in np.flatnonzero(_suspect_rows(values)).tolist():
                error = _check_line(chunk[i], chunk_numbers[i], source)[1]
                if error is not None:
                    keep[i] = False
                    chunk_errors.append(error)
        if chunk_errors and not skip_bad:
            raise chunk_errors[0]
        blocks.append(values)
        keeps.append(keep)
        errors += chunk_errors
    if not blocks:
        return np.empty((0, N_FIELDS)), np.empty(0, dtype=np.int64), errors
    keep_all = np.concatenate(keeps)
    records = np.concatenate(blocks)[keep_all]
    return records, np.asarray(numbers, dtype=np.int64)[keep_all], errors


def _bulk_parse(lines: list[str]) -> FloatArray | None:
    """All lines at once in numpy's C parser, or None if any line is not 18 numbers.

    Most traces hold integers only, which numpy reads about 7x faster than floats, so they
    are tried first; a chunk with any fraction, exponent or huge value is read as floats.
    """
    try:
        values = np.loadtxt(lines, dtype=np.int64, ndmin=2, comments=None).astype(np.float64)
    except ValueError:
        try:
            values = np.loadtxt(lines, dtype=np.float64, ndmin=2, comments=None)
        except ValueError:
            return None
    return values if values.shape[1] == N_FIELDS else None


def _parse_slowly(
    lines: list[str], numbers: list[int], source: str
) -> tuple[FloatArray, BoolArray, list[SwfParseError]]:
    values = np.full((len(lines), N_FIELDS), -1.0)
    keep = np.ones(len(lines), dtype=np.bool_)
    errors: list[SwfParseError] = []
    for i, (line, number) in enumerate(zip(lines, numbers, strict=True)):
        row, error = _check_line(line, number, source)
        if error is None:
            values[i] = row
        else:
            keep[i] = False
            errors.append(error)
    return values, keep, errors


def _check_line(line: str, number: int, source: str) -> tuple[list[float], SwfParseError | None]:
    """One record line, field by field: its values, or the first thing wrong with it."""
    tokens = line.split()
    if len(tokens) != N_FIELDS:
        count = f"expected {N_FIELDS} fields, found {len(tokens)}"
        return [], SwfParseError(source, number, None, None, count)
    row: list[float] = []
    for i, token in enumerate(tokens):
        value = float(token) if _NUMBER.fullmatch(token) else math.nan
        reason = _value_problem(i, value, token)
        if reason is not None:
            return [], SwfParseError(source, number, i + 1, SWF_FIELDS[i], reason)
        row.append(value)
    return row, None


def _value_problem(field: int, value: float, token: str) -> str | None:
    """What is wrong with one field's value (`token` is its text), or None."""
    if not math.isfinite(value):
        return f"not a number: {token!r}"
    if field not in FLOAT_FIELDS and not value.is_integer():
        return f"not an integer: {token!r} (only fields {_FRACTION_FIELDS} may have fractions)"
    if value < 0 and value != -1:
        return f"negative value {token!r} (the only negative allowed is -1, meaning unknown)"
    bound, rule = _FIELD_BOUND[field]
    if value > bound:
        return f"{token!r} is out of range: {rule}"
    return None


def _suspect_rows(values: FloatArray) -> BoolArray:
    """Rows `_value_problem` would reject, found in bulk (same rules, vectorized)."""
    bad: BoolArray = ~np.isfinite(values)
    bad |= _INTEGER_COLUMN & (values != np.floor(values))
    bad |= (values < 0) & (values != -1)
    bad |= values > _MAX_VALUE
    return np.asarray(bad.any(axis=1))


def _first_value_problem(records: FloatArray, source: str) -> SwfParseError | None:
    """The first bad value in records built in memory, reported by row number."""
    rows = np.flatnonzero(_suspect_rows(records))
    if len(rows) == 0:
        return None
    row = int(rows[0])
    for i, value in enumerate(records[row].tolist()):
        reason = _value_problem(i, value, _number_text(value))
        if reason is not None:
            return SwfParseError(source, row + 1, i + 1, SWF_FIELDS[i], reason)
    return None


def _record_lines(records: FloatArray) -> list[str]:
    """One text line per record: integers without a decimal point, fractions by repr."""
    columns: list[list[int] | list[str]] = []
    formats: list[str] = []
    for i in range(N_FIELDS):
        column = records[:, i]
        if bool((np.abs(column) < 2**53).all() and (column == np.floor(column)).all()):
            columns.append(column.astype(np.int64).tolist())
            formats.append("%d")
        else:
            columns.append([_number_text(v) for v in column.tolist()])
            formats.append("%s")
    # Column lists and one %-template: several times faster than formatting value by value.
    template = " ".join(formats)
    return [template % row for row in zip(*columns, strict=True)]


def _number_text(value: float) -> str:
    # repr is the shortest text that reads back as exactly the same float.
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)

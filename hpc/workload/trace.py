"""An SWF trace in memory: its header keys and its records as one (n, 18) array.

The Standard Workload Format (Parallel Workloads Archive, v2.2) has 18 numeric fields per
job; -1 means unknown. Records stay exactly as read so that writing them back round-trips;
turning a trace into something to simulate is `hpc.workload.cleaning`'s job.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

# 1-based SWF field numbers are the index + 1.
SWF_FIELDS: tuple[str, ...] = (
    "job_number",
    "submit_time",
    "wait_time",
    "run_time",
    "allocated_procs",
    "avg_cpu_time",
    "used_memory",
    "requested_procs",
    "requested_time",
    "requested_memory",
    "status",
    "user_id",
    "group_id",
    "executable",
    "queue",
    "partition",
    "preceding_job",
    "think_time",
)
N_FIELDS = len(SWF_FIELDS)
COL = {name: i for i, name in enumerate(SWF_FIELDS)}

# Fields that may hold fractions (CPU time and memory averages); the rest are integers.
FLOAT_FIELDS = frozenset({COL["avg_cpu_time"], COL["used_memory"]})


@dataclass(slots=True)
class SwfHeader:
    """Header lines (`; Key: value`) in file order; free comments are kept too."""

    keys: dict[str, str] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)

    def int_value(self, key: str) -> int | None:
        """An integer header value (`MaxProcs`, `UnixStartTime`, ...), or None if absent."""
        raw = self.keys.get(key)
        if raw is None:
            return None
        try:
            return int(raw.split()[0])
        except (ValueError, IndexError):
            return None

    @property
    def max_procs(self) -> int | None:
        return self.int_value("MaxProcs")

    @property
    def max_nodes(self) -> int | None:
        return self.int_value("MaxNodes")

    @property
    def unix_start_time(self) -> int | None:
        return self.int_value("UnixStartTime")

    def machine_procs(self) -> int | None:
        """Processors of the machine the trace ran on: MaxProcs, else MaxNodes."""
        return self.max_procs or self.max_nodes


@dataclass(slots=True)
class SwfTrace:
    """A whole SWF file: header, records (n x 18, float64) and each record's line number."""

    header: SwfHeader
    records: npt.NDArray[np.float64]
    line_numbers: npt.NDArray[np.int64]
    source: str = "<memory>"
    # Malformed lines dropped by `read_swf(..., skip_bad=True)`: how many, and the first messages.
    skipped_count: int = 0
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.records.shape[0])

    def column(self, name: str) -> npt.NDArray[np.float64]:
        """One field for every record, by its SWF name (see `SWF_FIELDS`)."""
        return self.records[:, COL[name]]

    def checksum(self) -> str:
        """sha256 of the header keys and the records: equal content, equal checksum."""
        digest = hashlib.sha256(json.dumps(self.header.keys, sort_keys=True).encode())
        digest.update(np.ascontiguousarray(self.records, dtype="<f8").tobytes())
        return digest.hexdigest()

"""Capacity events: nodes that fail, drain, return or are added at given times (what-if on
lost or added capacity).

A failure takes units away at once and kills running jobs if too few are free (most
recently started first: they lose the least work). A drain lets running jobs finish but
starts nothing new on the drained units. A return gives units back, up to the machine's size
(with what was added). An addition grows the machine beyond its size; a drain later takes
added units away again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from hpc.errors import SimulationError


class CapacityKind(Enum):
    FAIL = "fail"
    DRAIN = "drain"
    RETURN = "return"
    ADD = "add"


@dataclass(frozen=True, slots=True, order=True)
class CapacityChange:
    """At `time_s` (trace seconds), `units` nodes (processors on a processors-only machine)."""

    time_s: int
    kind: CapacityKind
    units: int

    def __post_init__(self) -> None:
        if self.units <= 0:
            raise SimulationError(f"capacity change at t={self.time_s} needs units > 0")

    @classmethod
    def parse(cls, text: str) -> CapacityChange:
        """`KIND@TIME:UNITS`, e.g. `fail@86400:32` or `return@172800:32`."""
        try:
            kind_text, rest = text.split("@", 1)
            time_text, units_text = rest.split(":", 1)
            return cls(int(time_text), CapacityKind(kind_text.strip().lower()), int(units_text))
        except ValueError:
            raise SimulationError(
                f"bad capacity change {text!r}: expected KIND@TIME:UNITS with KIND one of "
                "fail, drain, return, add (e.g. fail@86400:32, add@604800:16)"
            ) from None

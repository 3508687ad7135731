"""One change to a pending job (hold, release, nice, priority, begin, dependency): the one
job-action vocabulary of schedsight. Backends send it; `hpc.slurm.actions` applies it safely;
the agent proposes it (adding only its own kinds, in `agent.guard`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from hpc.slurm.errors import SlurmError
from hpc.slurm.spec import check_begin, check_dependency


class ActionKind(Enum):
    HOLD = "hold"
    RELEASE = "release"
    NICE = "nice"  # value: -10000..10000, higher waits longer
    PRIORITY = "priority"  # value: an absolute priority (admins only)
    BEGIN = "begin"  # value: YYYY-MM-DDTHH:MM[:SS] or now+N[units]
    DEPENDENCY = "dependency"  # value: afterok:123,... ("" clears it)


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    value: int | str | None = None

    def __post_init__(self) -> None:
        kind, value = self.kind, self.value
        if kind in (ActionKind.HOLD, ActionKind.RELEASE) and value is not None:
            raise SlurmError(f"{kind.value} takes no value")
        if kind in (ActionKind.NICE, ActionKind.PRIORITY) and not isinstance(value, int):
            raise SlurmError(f"{kind.value} needs an integer value, got {value!r}")
        if kind is ActionKind.NICE and isinstance(value, int) and abs(value) > 10000:
            raise SlurmError(f"nice must be within -10000..10000, got {value}")
        if kind is ActionKind.PRIORITY and isinstance(value, int) and value < 0:
            raise SlurmError(f"priority must not be negative, got {value}")
        if kind is ActionKind.BEGIN:
            check_begin(str(value))
        if kind is ActionKind.DEPENDENCY and value:
            check_dependency(str(value))

    @classmethod
    def parse(cls, kind: str, value: str | None = None) -> Action:
        """From words: ("nice", "100"), ("hold", None), ("begin", "now+1hours")."""
        try:
            k = ActionKind(kind)
        except ValueError:
            names = ", ".join(a.value for a in ActionKind)
            raise SlurmError(f"unknown action {kind!r}: use one of {names}") from None
        if k in (ActionKind.NICE, ActionKind.PRIORITY):
            try:
                return cls(k, int(value or ""))
            except ValueError:
                raise SlurmError(f"{kind} needs an integer value, got {value!r}") from None
        if k in (ActionKind.BEGIN, ActionKind.DEPENDENCY):
            if value is None:
                raise SlurmError(f"{kind} needs a value")
            return cls(k, value)
        return cls(k, value)

    def describe(self) -> str:
        return self.kind.value if self.value is None else f"{self.kind.value} {self.value}"

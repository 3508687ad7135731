"""The exceptions of the domain core, one small tree.

HpcError                 base of everything `hpc` raises on purpose
├── WorkloadError        a trace cannot be read or used (names file:line and field)
│   └── SwfParseError    one malformed SWF line
├── SimulationError      a machine, policy or scenario that cannot be simulated
│   └── NativeBuildError the compiled site engine could not be built (pure Python runs)
├── GoalError            an objective, constraint or goal that cannot be measured (hpc.objectives)
└── SiteError            a site model that is inconsistent or not found (hpc.site)
"""

from __future__ import annotations


class HpcError(Exception):
    """Base class: a user-facing problem with a message that says what to do."""


class WorkloadError(HpcError):
    """A workload file or its contents cannot be used."""


class SwfParseError(WorkloadError):
    """A malformed line in an SWF file: `file:line: field N (name): reason`."""

    def __init__(self, path: str, line: int, field: int | None, name: str | None, reason: str):
        self.path = path
        self.line = line
        self.field = field
        self.name = name
        self.reason = reason
        where = f"{path}:{line}"
        what = f"field {field} ({name}): {reason}" if field is not None else reason
        super().__init__(f"{where}: {what}")


class SimulationError(HpcError):
    """A machine, policy or scenario that the simulator cannot run."""


class NativeBuildError(SimulationError):
    """The site engine's compiled modules could not be built (no Cython, no C compiler);
    the pure-Python modules run instead (`hpc.sim.native`)."""


class SiteError(HpcError):
    """A site (partitions, nodes, QOS...) that is inconsistent, or a name it lacks."""


class GoalError(HpcError):
    """An objective, constraint or goal that is malformed or cannot be measured on a replay."""

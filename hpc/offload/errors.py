"""The exceptions of the offload package (all are `HpcError`s).

OffloadError                  base of everything `hpc.offload` raises on purpose
├── OffloadSpecError          a workload spec that cannot be rendered or submitted as it is
├── ProfileUnavailableError   a runtime's toolchain is missing here (lists every missing piece)
└── OffloadRunError           a submitted run that did not finish or left no readable output
"""

from __future__ import annotations

from hpc.errors import HpcError


class OffloadError(HpcError):
    """Base class: an offload problem with a message that says what to do."""


class OffloadSpecError(OffloadError):
    """A spec value that would render a wrong or unsafe script."""


class ProfileUnavailableError(OffloadError):
    """A compile profile that cannot be used here; `missing` names each absent piece."""

    def __init__(self, runtime: str, missing: list[str]) -> None:
        self.runtime, self.missing = runtime, missing
        lines = "\n".join(f"  - {m}" for m in missing)
        super().__init__(f"the {runtime} runtime is not usable here; missing:\n{lines}")


class OffloadRunError(OffloadError):
    """A run that timed out, or whose output cannot be read."""

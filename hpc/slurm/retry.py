"""Retry with exponential backoff, for a Slurm daemon that does not answer (and only that).

Any other error is Slurm's answer and is raised at once: retrying a refusal changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from hpc.slurm.errors import ControllerUnreachableError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Backoff:
    """`attempts` tries in all, waiting first_s, first_s * factor, ... (at most max_s) between."""

    attempts: int = 5
    first_s: float = 0.5
    factor: float = 2.0
    max_s: float = 8.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.first_s < 0 or self.factor < 1 or self.max_s < 0:
            raise ValueError(f"invalid backoff {self}")

    def delays(self) -> list[float]:
        """The waits between attempts (one fewer than attempts)."""
        return [min(self.max_s, self.first_s * self.factor**i) for i in range(self.attempts - 1)]


NO_RETRY = Backoff(attempts=1)


def with_retry(
    call: Callable[[], T],
    backoff: Backoff,
    *,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, float, ControllerUnreachableError], None] | None = None,
) -> T:
    """`call()`, retried on `ControllerUnreachableError`; the last failure names the attempts."""
    started = time.monotonic()
    delays = backoff.delays()
    for attempt in range(backoff.attempts):
        try:
            return call()
        except ControllerUnreachableError as exc:
            if attempt == len(delays):
                waited = time.monotonic() - started
                raise ControllerUnreachableError(
                    f"{what}: Slurm did not answer after {backoff.attempts} attempt(s) over "
                    f"{waited:.1f} s ({exc}); nothing was done. Check that slurmctld runs "
                    "(`scontrol ping`) and try again"
                ) from exc
            if on_retry is not None:
                on_retry(attempt + 1, delays[attempt], exc)
            sleep(delays[attempt])
    raise AssertionError("unreachable")  # pragma: no cover

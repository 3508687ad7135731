"""A scheduling policy is a queue order crossed with a backfill mode (`sjf:easy`).

The order decides which waiting job is next; backfilling decides whether jobs behind a
blocked head may start early. Policies see only requested times, never actual runtimes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

from hpc.errors import SimulationError


class QueueOrder(Enum):
    """Queue orders from the scheduling literature and Slurm."""

    FCFS = "fcfs"  # submit time
    SJF = "sjf"  # requested time, shortest first
    WFP3 = "wfp3"  # -(wait/req)^3 * size: favours long-waiting, short, large jobs
    UNICEP = "unicep"  # -wait / (log2(size) * req)
    F1 = "f1"  # log10(req) * size + 870 * log10(submit)  (Carastan-Santos & de Camargo 2017)
    MULTIFACTOR = "multifactor"  # Slurm-like weighted age, fair-share, size and QOS


class BackfillMode(Enum):
    """How jobs behind a blocked queue head may start."""

    NONE = "none"  # strict order: nothing passes a blocked head
    EASY = "easy"  # only the head holds a reservation (Lifka 1995)
    CONSERVATIVE = "conservative"  # every waiting job holds one (Mu'alem & Feitelson 2001)


@dataclass(frozen=True, slots=True)
class MultifactorWeights:
    """Weights and knobs of the Slurm-like multifactor priority (see Slurm's priority/multifactor).

    priority = age * min(wait / max_age_s, 1) + fairshare * 2^(-usage/share)
             + job_size * size_factor + qos * qos_factor(queue)
    Usage is charged per user (units x seconds) when a job ends and decays with
    `half_life_s`; shares are equal across the users seen so far.
    """

    age: float = 1000.0
    fairshare: float = 1000.0
    job_size: float = 200.0
    qos: float = 0.0
    max_age_s: int = 7 * 24 * 3600
    half_life_s: int = 7 * 24 * 3600
    favor_small: bool = True
    qos_by_queue: tuple[tuple[int, float], ...] = ()  # (SWF queue number, factor in [0, 1])

    def __post_init__(self) -> None:
        for name in ("age", "fairshare", "job_size", "qos"):
            value = getattr(self, name)
            # NaN compares false with everything, so `< 0` alone would let it through and
            # every priority would become NaN (an arbitrary queue order, silently).
            if not math.isfinite(value) or value < 0:
                raise SimulationError(
                    f"multifactor weight {name} must be a finite number >= 0, got {value}"
                )
        if not (0 < self.max_age_s < math.inf and 0 < self.half_life_s < math.inf):
            raise SimulationError("multifactor max_age_s and half_life_s must be positive")
        for _, factor in self.qos_by_queue:
            if not 0.0 <= factor <= 1.0:
                raise SimulationError(f"QOS factor {factor} is outside [0, 1]")


@dataclass(frozen=True, slots=True)
class Policy:
    """Queue order x backfill mode, plus how the engine treats jobs that overrun."""

    order: QueueOrder = QueueOrder.FCFS
    backfill: BackfillMode = BackfillMode.EASY
    weights: MultifactorWeights = field(default_factory=MultifactorWeights)
    kill_at_limit: bool = True  # as Slurm: a job is killed when it reaches its requested time

    @property
    def name(self) -> str:
        return f"{self.order.value}:{self.backfill.value}"

    @classmethod
    def parse(cls, text: str, **options: object) -> Policy:
        """`ORDER[:BACKFILL]`, e.g. `fcfs:none`, `sjf:easy`, `multifactor:conservative`."""
        order_text, _, backfill_text = text.strip().lower().partition(":")
        order = _enum_value(QueueOrder, order_text, "queue order")
        backfill = _enum_value(BackfillMode, backfill_text or "easy", "backfill mode")
        return cls(order, backfill, **options)  # type: ignore[arg-type]


def order_names() -> tuple[str, ...]:
    """Every queue order's name, in declaration order (for help texts and menus)."""
    return tuple(o.value for o in QueueOrder)


def backfill_names() -> tuple[str, ...]:
    """Every backfill mode's name, in declaration order."""
    return tuple(m.value for m in BackfillMode)


def policy_names(
    orders: tuple[QueueOrder, ...] = tuple(QueueOrder),
    backfills: tuple[BackfillMode, ...] = tuple(BackfillMode),
) -> tuple[str, ...]:
    """`order:backfill` for every pair of `orders` x `backfills` (default: all of each)."""
    return tuple(f"{o.value}:{b.value}" for o in orders for b in backfills)


E = TypeVar("E", bound=Enum)


def _enum_value(kind: type[E], text: str, what: str) -> E:
    try:
        return kind(text)
    except ValueError:
        choices = ", ".join(str(m.value) for m in kind)
        raise SimulationError(f"unknown {what} {text!r}: choose one of {choices}") from None

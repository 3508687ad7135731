"""The discrete-event scheduling simulator: policies, capacity events and the engine.

The engine (and numpy with it) loads on first use of `simulate` or `SimResult`, so that
reading the policy vocabulary (a CLI's help, say) costs nothing. The site replay's hot
modules load compiled where `python -m hpc.sim.native` built them from the current sources
(`hpc.sim.native.finder`; SCHEDSIGHT_SIM_COMPILED=0: pure Python).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hpc.sim.capacity import CapacityChange, CapacityKind
from hpc.sim.native.finder import install as install_native_finder
from hpc.sim.policy import BackfillMode, MultifactorWeights, Policy, QueueOrder

install_native_finder()

if TYPE_CHECKING:
    from hpc.sim.engine import SimResult, simulate

__all__ = [
    "BackfillMode",
    "CapacityChange",
    "CapacityKind",
    "MultifactorWeights",
    "Policy",
    "QueueOrder",
    "SimResult",
    "simulate",
]


def __getattr__(name: str) -> Any:
    if name in ("SimResult", "simulate"):
        from hpc.sim import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The discrete-event scheduling simulator: policies, capacity events and the engine."""

from hpc.sim.capacity import CapacityChange, CapacityKind
from hpc.sim.engine import SimResult, simulate
from hpc.sim.policy import BackfillMode, MultifactorWeights, Policy, QueueOrder

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

"""Queue orders as code: a static rank computed once, or keys recomputed at each pass.

FCFS, SJF and F1 depend only on a job's own request, so the queue stays sorted by a
precomputed rank and an arrival is one binary insertion. WFP3, UNICEP and multifactor
depend on the current time (and fair-share usage), so the queue is re-sorted at each
scheduling pass; ties always fall back to submit order (job index). `ORDERS` is the one
registry: every `QueueOrder` has its entry there (checked at import), none falls through.
"""

from __future__ import annotations

import math
from bisect import insort
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hpc.errors import SimulationError
from hpc.model import JobTable
from hpc.sim.policy import MultifactorWeights, QueueOrder

# Below this queue length a Python sort beats building numpy arrays.
_NUMPY_SORT_MIN = 48

FloatArray = npt.NDArray[np.float64]


class StaticOrder:
    """A queue order that never changes while jobs wait: a total rank over all jobs."""

    dynamic = False

    def __init__(self, keys: npt.NDArray[np.float64]) -> None:
        n = len(keys)
        ranks = np.empty(n, dtype=np.int64)
        ranks[np.lexsort((np.arange(n), keys))] = np.arange(n)
        self.rank: list[int] = ranks.tolist()
        self._is_identity = bool(np.array_equal(ranks, np.arange(n)))

    def insert(self, queue: list[int], job: int) -> None:
        """Put an arriving job in its place."""
        if self._is_identity and (not queue or queue[-1] < job):
            queue.append(job)
        else:
            insort(queue, job, key=self.rank.__getitem__)

    def sort(self, queue: list[int], now: int) -> None:
        """Nothing to do: the queue is always in order."""

    def charge(self, job: int, now: int, used_s: int) -> None:
        """Nothing to do: usage does not affect a static order."""


@dataclass(frozen=True, slots=True)
class WaitKey:
    """A priority key from a job's wait (s), requested time (s) and size (units); smallest
    first. The same formula twice: over numpy arrays for long queues, over floats for short."""

    vector: Callable[[FloatArray, FloatArray, FloatArray], FloatArray]
    scalar: Callable[[float, float, float], float]


class DynamicOrder:
    """A queue order whose keys depend on the time: re-sorted at every pass."""

    dynamic = True

    def __init__(self, key: WaitKey | None, jobs: JobTable, units: Sequence[int]) -> None:
        self.key = key
        self.submit = jobs.submit_s.astype(np.float64)
        self.req = np.maximum(jobs.req_time_s, 1).astype(np.float64)
        self.size = np.asarray(units, dtype=np.float64)
        self._submit_l: list[int] = jobs.submit_s.tolist()
        self._req_l: list[float] = self.req.tolist()
        self._size_l: list[float] = self.size.tolist()

    def insert(self, queue: list[int], job: int) -> None:
        queue.append(job)

    def charge(self, job: int, now: int, used_s: int) -> None:
        """Account a job that ran `used_s` seconds (only multifactor's fair-share cares)."""

    def sort(self, queue: list[int], now: int) -> None:
        """Order `queue` by priority at time `now` (smallest key first, ties by job index)."""
        if len(queue) < 2:
            return
        assert self.key is not None  # only multifactor, which overrides sort, has none
        if len(queue) < _NUMPY_SORT_MIN:
            scalar, submit, req, size = self.key.scalar, self._submit_l, self._req_l, self._size_l
            queue.sort(key=lambda j: (scalar(now - submit[j], req[j], size[j]), j))
            return
        idx = np.fromiter(queue, dtype=np.int64, count=len(queue))
        keys = self.key.vector(now - self.submit[idx], self.req[idx], self.size[idx])
        queue[:] = idx[np.lexsort((idx, keys))].tolist()


class MultifactorOrder(DynamicOrder):
    """Slurm-like multifactor priority: age, fair-share, job size and QOS, weighted.

    Usage per user is stored scaled by 2^(t/half_life) so that decay costs nothing:
    only ratios of usage matter, and all usage decays at the same rate.
    """

    def __init__(
        self, jobs: JobTable, units: Sequence[int], capacity: int, weights: MultifactorWeights
    ) -> None:
        super().__init__(None, jobs, units)
        self.w = weights
        users, self.user_index = np.unique(jobs.user, return_inverse=True)
        self._user_l: list[int] = self.user_index.tolist()
        self.usage = np.zeros(len(users), dtype=np.float64)
        self.seen = np.zeros(len(users), dtype=bool)
        self._scale_origin = 0.0
        size_frac = np.minimum(self.size / max(capacity, 1), 1.0)
        size_factor = 1.0 - size_frac if weights.favor_small else size_frac
        qos = dict(weights.qos_by_queue)
        qos_factor = np.array([qos.get(int(q), 0.0) for q in jobs.queue], dtype=np.float64)
        # The part of the priority that never changes while the job waits.
        self.static = weights.job_size * size_factor + weights.qos * qos_factor

    def charge(self, job: int, now: int, used_s: int) -> None:
        u = self._user_l[job]
        exponent = (now - self._scale_origin) / self.w.half_life_s
        if exponent > 500.0:  # keep the scaled values finite: rescale everything
            self.usage *= 2.0**-exponent
            self._scale_origin = float(now)
            exponent = 0.0
        self.usage[u] += used_s * self._size_l[job] * 2.0**exponent

    def sort(self, queue: list[int], now: int) -> None:
        if len(queue) < 2:
            return
        idx = np.fromiter(queue, dtype=np.int64, count=len(queue))
        keys = -self._priority(idx, now)
        queue[:] = idx[np.lexsort((idx, keys))].tolist()

    def _priority(self, idx: npt.NDArray[np.int64], now: int) -> npt.NDArray[np.float64]:
        w = self.w
        age = np.minimum((now - self.submit[idx]) / w.max_age_s, 1.0)
        users = self.user_index[idx]
        self.seen[users] = True
        total = float(self.usage.sum())
        if total > 0.0:
            share = 1.0 / int(self.seen.sum())
            fairshare = 2.0 ** (-(self.usage[users] / total) / share)
        else:
            fairshare = np.ones(len(idx))
        return w.age * age + w.fairshare * fairshare + self.static[idx]


Order = StaticOrder | DynamicOrder
OrderFactory = Callable[[JobTable, Sequence[int], int, MultifactorWeights], Order]


@dataclass(frozen=True, slots=True)
class OrderEntry:
    """One queue order: its name (the enum member), what it favours, and how it is built
    over a table of jobs, their allocation units and the machine's capacity (units)."""

    order: QueueOrder
    description: str
    build: OrderFactory


def _static(keys: Callable[[JobTable, Sequence[int]], FloatArray]) -> OrderFactory:
    return lambda jobs, units, capacity, weights: StaticOrder(keys(jobs, units))


def _dynamic(key: WaitKey) -> OrderFactory:
    return lambda jobs, units, capacity, weights: DynamicOrder(key, jobs, units)


def _f1_keys(jobs: JobTable, units: Sequence[int]) -> FloatArray:
    req = np.maximum(jobs.req_time_s, 1).astype(np.float64)
    origin = int(jobs.submit_s[0]) if len(jobs) else 0  # seconds since the trace starts
    submit = np.maximum(jobs.submit_s - origin, 1).astype(np.float64)
    size = np.asarray(units, dtype=np.float64)
    return np.log10(req) * size + 870.0 * np.log10(submit)


# UNICEP: log2(1) = 0 would divide by zero for serial jobs, hence the epsilon (the
# convention of the RLScheduler reference code).
_WFP3 = WaitKey(
    vector=lambda wait, req, size: -((wait / req) ** 3) * size,
    scalar=lambda wait, req, size: -((wait / req) ** 3) * size,
)
_UNICEP = WaitKey(
    vector=lambda wait, req, size: -wait / (np.log2(size + 1e-15) * req),
    scalar=lambda wait, req, size: -wait / (math.log2(size + 1e-15) * req),
)

ORDERS: Mapping[QueueOrder, OrderEntry] = {
    entry.order: entry
    for entry in (
        OrderEntry(
            QueueOrder.FCFS,
            "first come, first served (submit time)",
            _static(lambda jobs, units: np.zeros(len(jobs))),
        ),
        OrderEntry(
            QueueOrder.SJF,
            "shortest requested time first",
            _static(lambda jobs, units: jobs.req_time_s.astype(np.float64)),
        ),
        OrderEntry(
            QueueOrder.WFP3,
            "-(wait/req)^3 * size: favours long-waiting, short, large jobs",
            _dynamic(_WFP3),
        ),
        OrderEntry(QueueOrder.UNICEP, "-wait / (log2(size) * req)", _dynamic(_UNICEP)),
        OrderEntry(
            QueueOrder.F1,
            "log10(req) * size + 870 * log10(submit) (Carastan-Santos & de Camargo 2017)",
            _static(_f1_keys),
        ),
        OrderEntry(
            QueueOrder.MULTIFACTOR,
            "Slurm-like weighted age, fair-share, size and QOS",
            lambda jobs, units, capacity, weights: MultifactorOrder(jobs, units, capacity, weights),
        ),
    )
}
_unregistered = [o.value for o in QueueOrder if o not in ORDERS]
if _unregistered:  # a new QueueOrder member must come with its entry above
    raise SimulationError(f"queue orders without an entry in ORDERS: {', '.join(_unregistered)}")


def make_order(
    order: QueueOrder,
    jobs: JobTable,
    units: Sequence[int],
    capacity: int,
    weights: MultifactorWeights,
) -> Order:
    """The queue-order object for `order` over `jobs` (units: allocation units per job)."""
    entry = ORDERS.get(order)
    if entry is None:
        raise SimulationError(f"queue order {order!r} has no entry in hpc.sim.priority.ORDERS")
    return entry.build(jobs, units, capacity, weights)

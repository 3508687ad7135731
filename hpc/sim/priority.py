"""Queue orders as code: a static rank computed once, or keys recomputed at each pass.

FCFS, SJF and F1 depend only on a job's own request, so the queue stays sorted by a
precomputed rank and an arrival is one binary insertion. WFP3, UNICEP and multifactor
depend on the current time (and fair-share usage), so the queue is re-sorted at each
scheduling pass; ties always fall back to submit order (job index).
"""

from __future__ import annotations

import math
from bisect import insort
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from hpc.model import JobTable
from hpc.sim.policy import MultifactorWeights, QueueOrder

# Below this queue length a Python sort beats building numpy arrays.
_NUMPY_SORT_MIN = 48


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


class DynamicOrder:
    """A queue order whose keys depend on the time: re-sorted at every pass."""

    dynamic = True

    def __init__(self, order: QueueOrder, jobs: JobTable, units: Sequence[int]) -> None:
        self.order = order
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
        if len(queue) < _NUMPY_SORT_MIN:
            key = self._python_key(now)
            queue.sort(key=lambda j: (key(j), j))
            return
        idx = np.fromiter(queue, dtype=np.int64, count=len(queue))
        keys = self._numpy_keys(idx, now)
        queue[:] = idx[np.lexsort((idx, keys))].tolist()

    def _numpy_keys(self, idx: npt.NDArray[np.int64], now: int) -> npt.NDArray[np.float64]:
        wait = now - self.submit[idx]
        req = self.req[idx]
        if self.order is QueueOrder.WFP3:
            return -((wait / req) ** 3) * self.size[idx]
        # UNICEP; log2(1) = 0 would divide by zero for serial jobs, hence the epsilon
        # (the convention of the RLScheduler reference code).
        return -wait / (np.log2(self.size[idx] + 1e-15) * req)

    def _python_key(self, now: int) -> Callable[[int], float]:
        submit, req, size = self._submit_l, self._req_l, self._size_l
        if self.order is QueueOrder.WFP3:
            return lambda j: -(((now - submit[j]) / req[j]) ** 3) * size[j]
        return lambda j: -(now - submit[j]) / (math.log2(size[j] + 1e-15) * req[j])


class MultifactorOrder(DynamicOrder):
    """Slurm-like multifactor priority: age, fair-share, job size and QOS, weighted.

    Usage per user is stored scaled by 2^(t/half_life) so that decay costs nothing:
    only ratios of usage matter, and all usage decays at the same rate.
    """

    def __init__(
        self, jobs: JobTable, units: Sequence[int], capacity: int, weights: MultifactorWeights
    ) -> None:
        super().__init__(QueueOrder.MULTIFACTOR, jobs, units)
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


def make_order(
    order: QueueOrder,
    jobs: JobTable,
    units: Sequence[int],
    capacity: int,
    weights: MultifactorWeights,
) -> StaticOrder | DynamicOrder:
    """The queue-order object for `order` over `jobs` (units: allocation units per job)."""
    if order is QueueOrder.FCFS:
        return StaticOrder(np.zeros(len(jobs)))
    if order is QueueOrder.SJF:
        return StaticOrder(jobs.req_time_s.astype(np.float64))
    if order is QueueOrder.F1:
        req = np.maximum(jobs.req_time_s, 1).astype(np.float64)
        origin = int(jobs.submit_s[0]) if len(jobs) else 0  # seconds since the trace starts
        submit = np.maximum(jobs.submit_s - origin, 1).astype(np.float64)
        size = np.asarray(units, dtype=np.float64)
        return StaticOrder(np.log10(req) * size + 870.0 * np.log10(submit))
    if order is QueueOrder.MULTIFACTOR:
        return MultifactorOrder(jobs, units, capacity, weights)
    return DynamicOrder(order, jobs, units)

"""The discrete-event engine: replays a `JobTable` on a `Machine` under a `Policy`.

Events at the same second are handled in one fixed order, then one scheduling pass runs:
  1. job completions (lowest job index first), releasing their units;
  2. capacity changes (failures, drains, returns) in the order given;
  3. submissions, in trace order;
  4. a scheduling pass of the backfill mode (see `hpc.sim.backfill`).
The machine starts empty at the first job's submit time. Actual runtimes are known only
here: the policy sees requested times. Jobs that reach their requested time are killed
there (Slurm's behaviour) unless `Policy.kill_at_limit` is off.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from heapq import heapify, heappop, heappush

import numpy as np
import numpy.typing as npt

from hpc.errors import SimulationError
from hpc.model import IntArray, JobState, JobTable, Machine
from hpc.sim.backfill import make_backfill
from hpc.sim.capacity import CapacityChange, CapacityKind
from hpc.sim.policy import Policy
from hpc.sim.priority import make_order
from hpc.sim.state import COMPLETED, NEVER, NODE_FAIL, RUNNING, STATE_CODES, TIMEOUT


@dataclass(slots=True)
class SimResult:
    """What happened to every job (arrays aligned with the input `JobTable`)."""

    jobs: JobTable
    machine: Machine
    policy: Policy
    start_s: IntArray  # -1: never started (capacity lost for good)
    end_s: IntArray  # -1: never started
    state: npt.NDArray[np.uint8]  # codes into STATE_CODES
    units: IntArray  # allocation units each job held (nodes or processors)
    capacity_steps: list[tuple[int, int]]  # (time, capacity in units) from the first submit on
    wall_s: float  # seconds the replay took

    def state_of(self, index: int) -> JobState:
        return STATE_CODES[int(self.state[index])]

    @property
    def started(self) -> npt.NDArray[np.bool_]:
        return self.start_s >= 0


class Engine:
    """Mutable state of one replay; `run()` once. Backfill modes drive it via `start()`."""

    def __init__(
        self,
        jobs: JobTable,
        machine: Machine,
        policy: Policy,
        capacity_changes: tuple[CapacityChange, ...] = (),
    ) -> None:
        n = len(jobs)
        self.jobs, self.machine, self.policy = jobs, machine, policy
        units = machine.units_for(jobs.procs, jobs.req_mem_kb)
        if n and int(units.max()) > machine.units:
            worst = int(np.argmax(units))
            raise SimulationError(
                f"job {int(jobs.job_id[worst])} needs {int(units[worst])} units but the machine "
                f"({machine.describe()}) has {machine.units}: clean the workload first"
            )
        req = np.maximum(jobs.req_time_s, 1)
        run = np.maximum(jobs.run_s, 0)
        self.overruns = run > req
        duration = np.minimum(run, req) if policy.kill_at_limit else run
        self.submit: list[int] = jobs.submit_s.tolist()
        self.req: list[int] = req.tolist()
        self.duration: list[int] = duration.tolist()
        self.units: list[int] = units.tolist()
        self.done_state = np.where(
            self.overruns & policy.kill_at_limit, TIMEOUT, COMPLETED
        ).tolist()
        self.start_s = [-1] * n
        self.end_s = [-1] * n
        self.state = bytearray(n)
        self.capacity = machine.units
        self.size = machine.units  # the machine's units with those added by capacity changes
        self.free = machine.units  # capacity minus units in use; < 0 while a drain waits
        self.finishing: list[tuple[int, int]] = []  # heap of (actual end, job)
        self.expected: list[tuple[int, int]] = []  # heap of (start + requested, job)
        self.queue: list[int] = []
        self.timers: list[int] = []  # heap of times at which a pass must run (reservations)
        self.order = make_order(policy.order, jobs, self.units, machine.units, policy.weights)
        self.changes = sorted(capacity_changes, key=lambda c: c.time_s)
        self.capacity_steps: list[tuple[int, int]] = []
        self.backfill = make_backfill(policy.backfill, self)

    def start(self, job: int, now: int) -> None:
        """Start a waiting job now (the caller removes it from the queue)."""
        self.start_s[job] = now
        end = now + self.duration[job]
        self.end_s[job] = end
        self.state[job] = RUNNING
        self.free -= self.units[job]
        heappush(self.finishing, (end, job))
        heappush(self.expected, (now + self.req[job], job))

    def wake_at(self, time_s: int) -> None:
        """Run a scheduling pass at `time_s` even if no job event falls then."""
        heappush(self.timers, time_s)

    def run(self) -> None:
        submit, finishing, queue = self.submit, self.finishing, self.queue
        state, end_s, units, done_state = self.state, self.end_s, self.units, self.done_state
        start_s, expected, timers = self.start_s, self.expected, self.timers
        order, backfill, changes = self.order, self.backfill, self.changes
        n, n_changes = len(submit), len(changes)
        i = c = 0
        if n:
            first = min(submit[0], changes[0].time_s) if changes else submit[0]
            self.capacity_steps.append((first, self.capacity))
        while True:
            now = min(
                submit[i] if i < n else NEVER,
                finishing[0][0] if finishing else NEVER,
                changes[c].time_s if c < n_changes else NEVER,
                timers[0] if timers else NEVER,
            )
            if now == NEVER:
                break
            woken = False
            while timers and timers[0] <= now:
                heappop(timers)
                woken = True
            freed = False
            while finishing and finishing[0][0] == now:
                _, job = heappop(finishing)
                if state[job] != RUNNING or end_s[job] != now:
                    continue  # killed earlier by a node failure
                state[job] = done_state[job]
                self.free += units[job]
                order.charge(job, now, now - start_s[job])
                backfill.on_finish(job, now)
                freed = True
            if len(expected) > 2 * len(finishing) + 4096:
                # Drop entries of jobs that ended before their requested end.
                expected[:] = [x for x in expected if state[x[1]] == RUNNING]
                heapify(expected)
            reshaped = False
            while c < n_changes and changes[c].time_s == now:
                self._apply(changes[c], now)
                c += 1
                reshaped = True
            first_new = i
            while i < n and submit[i] == now:
                i += 1
            if i > first_new or (queue and (freed or reshaped or woken)):
                backfill.schedule(now, first_new, i, freed, reshaped)
            elif reshaped:
                backfill.on_reshape(now)

    def _apply(self, change: CapacityChange, now: int) -> None:
        if change.kind is CapacityKind.ADD:
            self.size += change.units
            self.capacity += change.units
            self.free += change.units
        elif change.kind is CapacityKind.RETURN:
            back = max(0, min(change.units, self.size - self.capacity))  # never beyond its size
            self.capacity += back
            self.free += back
        else:
            taken = min(change.units, self.capacity)
            self.capacity -= taken
            self.free -= taken
            if change.kind is CapacityKind.FAIL:
                self._kill_until_fits(now)
        self.capacity_steps.append((now, self.capacity))

    def _kill_until_fits(self, now: int) -> None:
        """Failed nodes take their jobs with them: kill the most recently started first."""
        if self.free >= 0:
            return
        running = [j for _, j in self.finishing if self.state[j] == RUNNING]
        running.sort(key=lambda j: (-self.start_s[j], -j))
        for job in running:
            if self.free >= 0:
                break
            self.state[job] = NODE_FAIL
            self.end_s[job] = now
            self.free += self.units[job]
            self.order.charge(job, now, now - self.start_s[job])

    def result(self, wall_s: float) -> SimResult:
        return SimResult(
            jobs=self.jobs,
            machine=self.machine,
            policy=self.policy,
            start_s=np.array(self.start_s, dtype=np.int64),
            end_s=np.array(self.end_s, dtype=np.int64),
            state=np.frombuffer(bytes(self.state), dtype=np.uint8).copy(),
            units=np.array(self.units, dtype=np.int64),
            capacity_steps=self.capacity_steps,
            wall_s=wall_s,
        )


def simulate(
    jobs: JobTable,
    machine: Machine,
    policy: Policy | None = None,
    *,
    capacity_changes: tuple[CapacityChange, ...] | list[CapacityChange] = (),
) -> SimResult:
    """Replay `jobs` on `machine` under `policy` (default FCFS with EASY backfilling)."""
    engine = Engine(jobs, machine, policy or Policy(), tuple(capacity_changes))
    t0 = time.perf_counter()
    engine.run()
    return engine.result(time.perf_counter() - t0)

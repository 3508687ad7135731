"""Objectives, hard constraints and goals over a replay: what an admin asks of a schedule.

An `Objective` is one figure of a replay with its direction (mean wait: lower is better;
utilization: higher). A `Constraint` is a bound that must hold ("p95 wait of jobs under 16
cores <= 1 h", "utilization of partition gpu >= 80%", "Jain fairness across accounts >=
0.9"); `check` measures each on a replay and says whether it is met, with the value. A `Goal`
is weighted objectives or a lexicographic order, plus constraints; `choose` picks by it.

Fairness is Jain's index over the groups' mean bounded slowdowns (as `hpc.metrics`): across
accounts where the replay has them (a site replay's accounts; the SWF group column of a plain
replay where every job records one), else across users. In a wait constraint a job that
never started counts with its wait up to the replay's last end (a lower bound), so a policy
cannot meet a bound by never starting the jobs it is about.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import numpy.typing as npt

from hpc.errors import GoalError
from hpc.metrics import jain_index, job_metrics, summarize
from hpc.sim.engine import SimResult
from hpc.sim.site_engine import SiteResult
from hpc.timetext import span_text

Replay = SimResult | SiteResult


class Objective(Enum):
    """A figure of a whole replay to optimise."""

    MEAN_WAIT = "mean_wait"  # seconds
    MEAN_BSLD = "mean_bsld"  # bounded slowdown, 10 s threshold
    UTILIZATION = "utilization"  # fraction of the capacity busy, 0..1
    FAIRNESS = "fairness"  # Jain's index across accounts (else users), 0..1
    MAKESPAN = "makespan"  # seconds from the first submit to the last end

    @property
    def lower_is_better(self) -> bool:
        return self in (Objective.MEAN_WAIT, Objective.MEAN_BSLD, Objective.MAKESPAN)

    @property
    def label(self) -> str:
        return _LABELS[self]

    def format(self, value: float) -> str:
        """`value` as people read it: a span for times, a percentage, an index."""
        if self in (Objective.MEAN_WAIT, Objective.MAKESPAN):
            return span_text(value)
        if self is Objective.UTILIZATION:
            return f"{value:.1%}"
        return f"{value:.2f}"


_LABELS = {
    Objective.MEAN_WAIT: "mean wait",
    Objective.MEAN_BSLD: "mean bounded slowdown",
    Objective.UTILIZATION: "utilization",
    Objective.FAIRNESS: "Jain fairness",
    Objective.MAKESPAN: "makespan",
}


class Measure(Enum):
    """What a constraint bounds; waits in seconds, utilization and fairness 0..1."""

    P95_WAIT = "p95_wait"
    MAX_WAIT = "max_wait"
    MEAN_WAIT = "mean_wait"
    MEAN_BSLD = "mean_bsld"
    UTILIZATION = "utilization"
    FAIRNESS_ACCOUNTS = "fairness_accounts"
    FAIRNESS_USERS = "fairness_users"

    @property
    def is_wait(self) -> bool:
        return self in (Measure.P95_WAIT, Measure.MAX_WAIT, Measure.MEAN_WAIT)

    @property
    def is_fraction(self) -> bool:
        return self in (Measure.UTILIZATION, Measure.FAIRNESS_ACCOUNTS, Measure.FAIRNESS_USERS)


@dataclass(frozen=True, slots=True)
class Constraint:
    """A bound that must hold. Waits and slowdown are bounded from above, utilization and
    fairness from below. `under_cores`: only jobs asking for fewer cores; `partition`: only
    that partition's jobs (and, for utilization, its cores): site replays only."""

    measure: Measure
    bound: float
    under_cores: int | None = None
    partition: str | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.bound) or self.bound < 0:
            raise GoalError(f"{self.measure.value}: the bound must be a number >= 0")
        if self.measure.is_fraction and self.bound > 1:
            raise GoalError(f"{self.measure.value}: the bound is a fraction 0..1, got {self.bound}")
        if self.under_cores is not None and self.under_cores < 1:
            raise GoalError(f"jobs under {self.under_cores} cores: the count must be >= 1")
        if self.measure is Measure.UTILIZATION and self.under_cores is not None:
            raise GoalError("utilization is of a partition or the machine, not of job sizes")

    @property
    def at_most(self) -> bool:
        """True: the measure must stay <= bound; False: >= bound."""
        return not self.measure.is_fraction

    def describe(self) -> str:
        what = {
            Measure.P95_WAIT: "p95 wait",
            Measure.MAX_WAIT: "longest wait",
            Measure.MEAN_WAIT: "mean wait",
            Measure.MEAN_BSLD: "mean bounded slowdown",
            Measure.UTILIZATION: "utilization",
            Measure.FAIRNESS_ACCOUNTS: "Jain fairness across accounts",
            Measure.FAIRNESS_USERS: "Jain fairness across users",
        }[self.measure]
        scope = []
        if self.under_cores is not None:
            scope.append(f"jobs under {self.under_cores} cores")
        if self.partition is not None:
            scope.append(f"partition {self.partition}")
        of = f" of {' in '.join(scope)}" if scope else ""
        return f"{what}{of} {'<=' if self.at_most else '>='} {self.format(self.bound)}"

    def format(self, value: float) -> str:
        if self.measure.is_wait:
            return span_text(value)
        if self.measure is Measure.UTILIZATION:
            return f"{value:.1%}"
        return f"{value:.2f}"


@dataclass(frozen=True, slots=True)
class ConstraintCheck:
    """One constraint measured on one replay."""

    constraint: Constraint
    measured: float
    met: bool
    jobs: int  # jobs in the constraint's scope
    unstarted: int  # of them, jobs that never started (counted as waiting to the end)

    @property
    def shortfall(self) -> float:
        """How far from the bound, relative to it (0 when met): ranks the infeasible."""
        if self.met:
            return 0.0
        bound, value = self.constraint.bound, self.measured
        if self.constraint.at_most:
            return (value - bound) / bound if bound > 0 else value
        return (bound - value) / bound if bound > 0 else 0.0

    def describe(self) -> str:
        c = self.constraint
        return f"{c.describe()}: {c.format(self.measured)}, {'met' if self.met else 'NOT met'}"

    def as_dict(self) -> dict[str, object]:
        return {"constraint": self.constraint.describe(), "measured": self.measured,
                "met": self.met, "jobs": self.jobs, "unstarted": self.unstarted}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Goal:
    """Weighted objectives (`weights`) or a lexicographic `order`, never both, plus hard
    `constraints`. Lexicographically, values within `tolerance` (relative) of the best on an
    objective count as a tie, and the next objective decides among them."""

    weights: Mapping[Objective, float] = field(default_factory=dict)
    order: tuple[Objective, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    tolerance: float = 0.01

    def __post_init__(self) -> None:
        if bool(self.weights) == bool(self.order):
            raise GoalError("a goal is weighted objectives or a lexicographic order (one of them)")
        if any(not math.isfinite(w) or w < 0 for w in self.weights.values()):
            raise GoalError("objective weights must be numbers >= 0")
        if self.weights and sum(self.weights.values()) <= 0:
            raise GoalError("at least one objective weight must be positive")
        if len(set(self.order)) != len(self.order):
            raise GoalError("a lexicographic order names each objective once")
        if not 0 <= self.tolerance < 1:
            raise GoalError(f"the tie tolerance is a fraction 0..1, got {self.tolerance}")

    @property
    def objectives(self) -> tuple[Objective, ...]:
        return self.order or tuple(o for o, w in self.weights.items() if w > 0)

    def describe(self) -> str:
        if self.order:
            how = "first " + ", then ".join(o.label for o in self.order)
        else:
            how = ", ".join(f"{o.label} x{w:g}" for o, w in self.weights.items() if w > 0)
        limits = "; ".join(c.describe() for c in self.constraints) or "no hard constraints"
        return f"{how}; {limits}"


@dataclass(frozen=True, slots=True)
class Choice:
    index: int  # of the row chosen
    feasible: bool  # whether it meets every constraint (else: the closest to doing so)


# ------------------------------------------------------------ measuring
def fairness_groups(result: Replay) -> tuple[npt.NDArray[np.int64], str]:
    """Each job's fairness group and what the groups are: "accounts" or "users"."""
    if isinstance(result, SiteResult):
        if len(result.demand.accounts) > 1:
            return result.demand.account.astype(np.int64), "accounts"
        return result.result.jobs.user, "users"
    group = result.jobs.group
    if len(group) and bool(np.all(group >= 0)) and len(np.unique(group)) > 1:
        return group, "accounts"
    return result.jobs.user, "users"


def objective_values(result: Replay) -> dict[Objective, float]:
    """Every objective's value on one replay."""
    sim = _sim(result)
    s = summarize(sim)
    return {
        Objective.MEAN_WAIT: s.mean_wait_s,
        Objective.MEAN_BSLD: s.mean_bsld,
        Objective.UTILIZATION: s.utilization,
        Objective.FAIRNESS: _jain(sim, fairness_groups(result)[0], None),
        Objective.MAKESPAN: float(s.makespan_s),
    }


def check(result: Replay, constraints: Sequence[Constraint]) -> list[ConstraintCheck]:
    """Each constraint measured on `result`, in order."""
    return [_check_one(result, c) for c in constraints]


def _check_one(result: Replay, c: Constraint) -> ConstraintCheck:
    sim = _sim(result)
    jobs = sim.jobs
    scope = np.ones(len(jobs), dtype=bool)
    if c.under_cores is not None:
        scope &= jobs.procs < c.under_cores
    if c.partition is not None:
        scope &= _partition_rows(result, c.partition)
    started = sim.started
    n, unstarted = int(scope.sum()), int((scope & ~started).sum())
    if c.measure is Measure.UTILIZATION:
        value = _utilization(result, c.partition)
    elif c.measure in (Measure.FAIRNESS_ACCOUNTS, Measure.FAIRNESS_USERS):
        keys = jobs.user if c.measure is Measure.FAIRNESS_USERS else _accounts(result)
        value = _jain(sim, keys, scope)
    elif c.measure is Measure.MEAN_BSLD:
        jm = job_metrics(sim)
        bsld = jm.bsld[scope[jm.index]]
        value = float(bsld.mean()) if len(bsld) else 0.0
    else:
        waits = _censored_waits(sim)[scope]
        value = _wait_stat(c.measure, waits)
    met = value <= c.bound + 1e-9 if c.at_most else value >= c.bound - 1e-9
    return ConstraintCheck(c, value, met, n, unstarted)


def _sim(result: Replay) -> SimResult:
    return result.result if isinstance(result, SiteResult) else result


def _accounts(result: Replay) -> npt.NDArray[np.int64]:
    keys, kind = fairness_groups(result)
    if kind != "accounts":
        raise GoalError(
            "fairness across accounts needs jobs in at least two accounts, and the jobs of "
            f"this replay name {_account_count(result)}: use fairness across users, or "
            "replay a workload whose jobs carry accounts (Slurm accounting, or an SWF trace "
            "with a group column)"
        )
    return keys


def _account_count(result: Replay) -> str:
    if isinstance(result, SiteResult):
        n = len(result.demand.accounts)
        return f"{n} account" if n == 1 else f"{n} accounts"
    return "no accounts (the SWF group column is empty or one group)"


def _partition_rows(result: Replay, name: str) -> npt.NDArray[np.bool_]:
    if not isinstance(result, SiteResult):
        raise GoalError(f"partition {name!r}: only a site replay (`--site`) has partitions")
    index = result.site.partitions.index(result.site.partition(name))
    return np.asarray(result.demand.partition == index)


def _utilization(result: Replay, partition: str | None) -> float:
    sim = _sim(result)
    if partition is None:
        return summarize(sim).utilization
    assert isinstance(result, SiteResult)  # _partition_rows said so
    rows = _partition_rows(result, partition) & sim.started
    cores = result.site.totals(partition)["cores"]
    first = int(sim.jobs.submit_s[0]) if len(sim.jobs) else 0
    last = int(sim.end_s.max()) if bool(sim.started.any()) else first
    used = float(np.sum(sim.jobs.procs[rows] * (sim.end_s[rows] - sim.start_s[rows])))
    available = float(cores * (last - first))
    return used / available if available > 0 else 0.0


def _jain(
    sim: SimResult, keys: npt.NDArray[np.int64], scope: npt.NDArray[np.bool_] | None
) -> float:
    jm = job_metrics(sim)
    mine = np.ones(len(jm.index), dtype=bool) if scope is None else scope[jm.index]
    k = keys[jm.index][mine]
    if len(k) == 0:
        return 1.0
    _, inverse, counts = np.unique(k, return_inverse=True, return_counts=True)
    return jain_index(np.bincount(inverse, jm.bsld[mine]) / counts)


def _censored_waits(sim: SimResult) -> npt.NDArray[np.float64]:
    """Every job's wait; a job never started waits until the replay's last end."""
    submit = sim.jobs.submit_s.astype(np.float64)
    horizon = float(max(int(sim.end_s.max()), int(sim.jobs.submit_s.max()))) if len(submit) else 0
    start = np.where(sim.started, sim.start_s, horizon).astype(np.float64)
    return start - submit


def _wait_stat(measure: Measure, waits: npt.NDArray[np.float64]) -> float:
    if len(waits) == 0:
        return 0.0
    if measure is Measure.P95_WAIT:
        return float(np.percentile(waits, 95))
    if measure is Measure.MAX_WAIT:
        return float(waits.max())
    return float(waits.mean())


# ------------------------------------------------------------ choosing
def choose(
    rows: Sequence[Mapping[Objective, float]],
    goal: Goal,
    checks: Sequence[Sequence[ConstraintCheck]] | None = None,
) -> Choice:
    """The row `goal` prefers among those meeting every constraint (`checks[i]`: row i's);
    with none meeting them all, the one closest to (least total relative shortfall)."""
    if not rows:
        raise GoalError("nothing to choose from")
    checks = checks if checks is not None else [[] for _ in rows]
    feasible = [i for i, cs in enumerate(checks) if all(c.met for c in cs)]
    if feasible:
        return Choice(feasible[_best(rows, feasible, goal)], True)
    short = [sum(c.shortfall for c in cs) for cs in checks]
    least = min(short)
    closest = [i for i, s in enumerate(short) if s <= least + 1e-9]
    return Choice(closest[_best(rows, closest, goal)], False)


def weighted_score(
    row: Mapping[Objective, float],
    weights: Mapping[Objective, float],
    scale: Mapping[Objective, float],
) -> float:
    """Sum of weight x value / scale, each signed so that lower is better."""
    return sum(
        w * (row[o] if o.lower_is_better else -row[o]) / (scale[o] or 1.0)
        for o, w in weights.items()
        if w > 0
    )


def _best(rows: Sequence[Mapping[Objective, float]], among: list[int], goal: Goal) -> int:
    """Position in `among` of the best row by the goal's weights or order."""
    if goal.weights:
        scale = {o: float(np.mean([abs(rows[i][o]) for i in among])) for o in goal.weights}
        scores = [weighted_score(rows[i], goal.weights, scale) for i in among]
        return int(np.argmin(scores))
    left = list(range(len(among)))
    for o in goal.order:
        signed = [rows[among[k]][o] * (1 if o.lower_is_better else -1) for k in left]
        best = min(signed)
        slack = goal.tolerance * max(abs(best), 1e-12)
        left = [k for k, v in zip(left, signed, strict=True) if v <= best + slack]
    return left[0]

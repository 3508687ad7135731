"""How a dispatch ranks complete plans: by one objective, or by a goal (`hpc.objectives`).

A ranking maps a plan to a key; lower is better, compared as tuples, so the search keeps one
rule ("no worse than the incumbent") whatever it is asked. A goal's key puts the total
shortfall of its hard constraints first (0 when all are met, so a plan meeting them beats
every plan that does not), then the weighted score, or the objectives in their lexicographic
order. The weights' scales and the lexicographic tie widths (the goal's tolerance) come from
the reference plans (the heuristics') and stay fixed for the run, so a plan's key never
changes. Ties are buckets of that width: an approximation of `hpc.objectives.choose`'s
"within 1 % of the best", which needs the whole set of candidates at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from agent.batch.schedule import Batch, Objective
from hpc.model import IntArray
from hpc.objectives import ConstraintCheck, Goal, check, objective_values, weighted_score
from hpc.objectives import Objective as GoalObjective

Key = tuple[float, ...]
EPSILON = 1e-9  # float noise, not a difference


def worse(a: Key, b: Key) -> bool:
    """Whether key `a` ranks strictly after `b` (lexicographically, beyond float noise)."""
    for x, y in zip(a, b, strict=True):
        if x > y + EPSILON:
            return True
        if x < y - EPSILON:
            return False
    return False


class Ranking:
    """Plans of `batch` ranked by `objective` alone, or by `goal` (`objective` then only names
    the figure reported as the run's value and the one the exact solver is offered)."""

    def __init__(
        self,
        batch: Batch,
        objective: Objective,
        goal: Goal | None = None,
        reference: Sequence[IntArray] = (),
    ) -> None:
        self.batch, self.objective, self.goal = batch, objective, goal
        self._cache: dict[bytes, Key] = {}
        self.scale: dict[GoalObjective, float] = {}
        if goal is not None:
            if not reference:
                raise ValueError("a goal's ranking needs reference plans for its scales")
            rows = [objective_values(batch.replay(s)) for s in reference]
            self.scale = {o: float(np.mean([abs(r[o]) for r in rows])) for o in GoalObjective}

    @property
    def name(self) -> str:
        return self.objective.value if self.goal is None else f"goal ({self.goal.describe()})"

    def key(self, start_s: IntArray) -> Key:
        """The plan's rank (lower is better)."""
        if self.goal is None:
            return (self.batch.value(start_s, self.objective),)
        tag = start_s.tobytes()
        if tag not in self._cache:
            self._cache[tag] = self._goal_key(start_s, self.goal)
        return self._cache[tag]

    def checks(self, start_s: IntArray) -> list[ConstraintCheck]:
        """The goal's hard constraints measured on the plan (none without a goal)."""
        if self.goal is None:
            return []
        return check(self.batch.replay(start_s), self.goal.constraints)

    def values(self, start_s: IntArray) -> dict[str, float]:
        """Every goal objective's value on the plan, by name."""
        return {o.value: v for o, v in objective_values(self.batch.replay(start_s)).items()}

    def describe(self, key: Key) -> str:
        if self.goal is None:
            return f"{key[0]:.1f}"
        return f"constraint shortfall {key[0]:.3g}, then " + ", ".join(f"{k:.4g}" for k in key[1:])

    def _goal_key(self, start_s: IntArray, goal: Goal) -> Key:
        replay = self.batch.replay(start_s)
        values = objective_values(replay)
        shortfall = sum(c.shortfall for c in check(replay, goal.constraints))
        if goal.weights:
            return (shortfall, weighted_score(values, goal.weights, self.scale))
        signed = [values[o] * (1 if o.lower_is_better else -1) for o in goal.order]
        ties = [
            math.floor(v / (goal.tolerance * self.scale[o]))
            if goal.tolerance * self.scale[o]
            else v
            for o, v in zip(goal.order[:-1], signed, strict=False)
        ]
        return (shortfall, *ties, signed[-1])

"""Trade-offs in words: one sentence per policy saying, with the numbers, what it gains and
what it gives up against a reference policy ("sjf:easy cuts mean wait 31% (2 h 05 min ->
1 h 26 min) but lowers Jain fairness from 0.91 to 0.84")."""

from __future__ import annotations

from collections.abc import Mapping

from hpc.objectives import Objective

SAME = 0.005  # relative changes smaller than this are "the same"


def change(o: Objective, ref: float, new: float) -> float:
    """The relative improvement of `new` over `ref` on `o` (> 0 better, < 0 worse)."""
    if ref == new:
        return 0.0
    scale = abs(ref) if ref else max(abs(new), 1e-12)
    gain = (ref - new) / scale
    return gain if o.lower_is_better else -gain


def phrase(o: Objective, ref: float, new: float) -> str:
    """ "cuts mean wait 31% (2 h 05 min -> 1 h 26 min)", "lowers Jain fairness from 0.91 to
    0.84": the verb says the direction of the number, the figures say by how much."""
    a, b = o.format(ref), o.format(new)
    if a == b and o is Objective.FAIRNESS:  # a real difference, hidden by two decimals
        a, b = f"{ref:.4f}", f"{new:.4f}"
    elif a == b and o is Objective.UTILIZATION:
        a, b = f"{ref:.3%}", f"{new:.3%}"
    if o in (Objective.UTILIZATION, Objective.FAIRNESS):
        return f"{'raises' if new > ref else 'lowers'} {o.label} from {a} to {b}"
    pct = abs(new - ref) / abs(ref) * 100 if ref else 100.0
    verb = "cuts" if new < ref else ("lengthens" if o is not Objective.MEAN_BSLD else "raises")
    return f"{verb} {o.label} {pct:.0f}% ({a} -> {b})"


def sentence(
    name: str,
    values: Mapping[Objective, float],
    ref_name: str,
    ref: Mapping[Objective, float],
) -> str:
    """`name`'s largest gain and largest loss against `ref_name`, in one sentence."""
    if name == ref_name:
        return f"{name} is the reference the others are compared with"
    gains = sorted(((change(o, ref[o], values[o]), o) for o in values), key=lambda t: -t[0])
    best, worst = gains[0], gains[-1]
    good = best[0] > SAME
    bad = worst[0] < -SAME
    if good and bad:
        return (
            f"{name} {phrase(best[1], ref[best[1]], values[best[1]])} but "
            f"{phrase(worst[1], ref[worst[1]], values[worst[1]])} (vs {ref_name})"
        )
    if good:
        return (
            f"{name} {phrase(best[1], ref[best[1]], values[best[1]])} and is no worse on "
            f"any other objective (vs {ref_name})"
        )
    if bad:
        return (
            f"{name} is no better than {ref_name} on any objective and "
            f"{phrase(worst[1], ref[worst[1]], values[worst[1]])}"
        )
    return f"{name} is within {SAME:.1%} of {ref_name} on every objective"

"""Prompt-lookup (n-gram) speculative decoding: drafts copied from the sequence's own tokens.

An agent's answers repeat its prompt (job ids, names, JSON keys), so the tokens that followed
the last earlier occurrence of the sequence's newest n-gram are a cheap draft. The engine
verifies a draft in one forward over `[last token, draft...]` and keeps the longest prefix
that equals what greedy decoding picks anyway, plus the token greedy picks after it, so the
output is the greedy output. Only greedy sequences speculate.

A verified token must get the logits, and write the K/V, that decoding it would: otherwise a
later near-tie can flip and greedy output drifts. Attention in verification runs token by
token through the decode path (inference/model/transformer.py), but matmul kernels may still round
differently by row count (oneDNN's bf16 GEMMs do). `probe_widths` measures, once per engine,
which widths reproduce single-token logits on this build; only those are drafted at (none:
speculation is off), and a pick within the measured noise of a tie waits for a plain step.

Memory is bounded (SpecMemo's point): a step's verification logits take
rows x (draft + 1) x vocab x 4 bytes, so the draft length shrinks until they fit
`memory_mb`; each sequence's draft length also adapts to how much of its drafts was accepted.

A draft pays only if what it is expected to yield beats what its verification costs: a
width-w forward costs more than a plain step (on a 2-core CPU ~2.7 plain steps at width 7),
and a draft of k tokens, each kept with probability a until the first miss, yields
1 + a + ... + a^k tokens. `StepCosts` measures each width's step time (seeded by the probe,
then kept up to date from the engine's own steps), each drafter estimates its sequence's a,
also from the drafts it proposed but did not verify (their first token), and `plan_draft`
picks the draft length with the most tokens per unit of time, or none.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

NOISE_TOLERANCE = 1e-3  # largest logit difference (float32 rounding) a width may show
ACCEPT_MEMORY = 0.9  # weight an acceptance observation keeps per later observation
COST_SMOOTHING = 0.1  # weight of a new step time in its width's running mean
TIMING_REPEATS = 3  # forwards the probe times per verification width
OUTLIER_FACTOR = 3.0  # a step time counts at most this many times its width's mean
EXPLORE_EVERY = 32  # one refused draft in this many is verified, to re-time its width


@dataclass(frozen=True, slots=True)
class SpeculationConfig:
    """How far to speculate; `max_draft` 0 turns speculation off."""

    max_draft: int = 6  # draft tokens verified per step at most
    max_ngram: int = 3  # longest suffix looked up (then shorter ones)
    min_ngram: int = 2  # shortest suffix worth trusting
    max_batch: int = 1  # speculate only when this few sequences decode together
    memory_mb: int = 32  # bound on a step's verification logits

    def __post_init__(self) -> None:
        if self.max_draft < 0:
            raise ValueError("speculation: max_draft must be >= 0 (0 turns it off)")
        if not 1 <= self.min_ngram <= self.max_ngram:
            raise ValueError("speculation: 1 <= min_ngram <= max_ngram is required")
        if self.max_batch < 1 or self.memory_mb < 1:
            raise ValueError("speculation: max_batch and memory_mb must be at least 1")

    @property
    def enabled(self) -> bool:
        return self.max_draft > 0

    def draft_budget(self, rows: int, vocab: int) -> int:
        """The longest draft whose verification logits for `rows` sequences fit the bound."""
        per_position = rows * vocab * 4
        return max(0, min(self.max_draft, self.memory_mb * 2**20 // per_position - 1))


class NgramDrafter:
    """The tokens of one sequence, indexed by n-gram, proposing what followed last time.

    `index[n][gram]` is the end position of the latest occurrence of `gram` (n tokens) that
    has at least one token after it. Updating costs O(max_ngram) per token.
    """

    def __init__(self, config: SpeculationConfig, tokens: list[int]) -> None:
        self.config = config
        self.tokens: list[int] = []
        self.index: dict[int, dict[tuple[int, ...], int]] = {
            n: {} for n in range(config.min_ngram, config.max_ngram + 1)
        }
        self.draft_len = config.max_draft
        self.hold = False  # the last pick was a near-tie: decode the next token plainly
        self.proposed = 0
        self.accepted = 0
        # Decayed counts of draft tokens kept and of tries (kept, plus one per first miss),
        # starting from a prior of one kept in two.
        self.kept, self.tries = 1.0, 2.0
        self.unverified: int | None = None  # the first token of a draft not verified
        self.extend(tokens)

    @property
    def accept_rate(self) -> float:
        """The estimated chance that the next draft token is kept, given the ones before it."""
        return self.kept / self.tries

    def extend(self, tokens: list[int]) -> None:
        for token in tokens:
            if self.unverified is not None:
                self._observe(int(self.unverified == token), 1)
                self.unverified = None
            # The n-grams ending at the current last token now have a successor: index them.
            end = len(self.tokens)
            for n, grams in self.index.items():
                if end >= n:
                    grams[tuple(self.tokens[end - n : end])] = end
            self.tokens.append(token)

    def propose(self, limit: int) -> list[int]:
        """Up to `limit` tokens that followed the longest matching suffix, newest match first."""
        self.unverified = None
        k = min(limit, self.draft_len)
        if k <= 0:
            return []
        toks = self.tokens
        for n in range(self.config.max_ngram, self.config.min_ngram - 1, -1):
            if len(toks) < n:
                continue
            at = self.index[n].get(tuple(toks[-n:]))
            if at is not None:
                return toks[at : at + k]
        return []

    def skip(self, draft: list[int]) -> None:
        """`draft` was proposed but the step decodes plainly: its first token is scored
        against the token the step picks (one observation, as a verification's first)."""
        self.unverified = draft[0] if draft else None

    def record(self, proposed: int, accepted: int, *, tie: bool = False) -> None:
        """Adapt the draft length: grow after a fully accepted draft, shrink after a miss.

        `tie`: verification stopped at a near-tie, before the draft could miss or be kept
        (the rest is left to a plain step): no evidence against the draft.
        """
        self.proposed += proposed
        self.accepted += accepted
        if tie:
            self._observe(accepted, accepted)
            return
        self._observe(accepted, accepted + int(accepted < proposed))
        if accepted == proposed:
            self.draft_len = min(self.config.max_draft, self.draft_len + 1)
        else:
            self.draft_len = max(1, accepted + 1)

    def _observe(self, kept: int, tries: int) -> None:
        if tries:
            self.kept = ACCEPT_MEMORY * self.kept + kept
            self.tries = ACCEPT_MEMORY * self.tries + tries


class StepCosts:
    """Running mean of a forward's time per width (1 = a plain step); unmeasured widths
    count as free, so a draft is then never refused for its cost.

    A width is re-timed only when it is used, so one slow step (another process took the
    core) must not price it out for good: each time counts at most OUTLIER_FACTOR times the
    mean so far, and every EXPLORE_EVERY-th refused draft is verified anyway (`explore`).
    """

    def __init__(self, seconds: dict[int, float] | None = None) -> None:
        self.seconds: dict[int, float] = dict(seconds or {})
        self.refused = 0

    def observe(self, width: int, seconds: float) -> None:
        old = self.seconds.get(width)
        if old is None:
            self.seconds[width] = seconds
            return
        seconds = min(max(seconds, old / OUTLIER_FACTOR), old * OUTLIER_FACTOR)
        self.seconds[width] = old + COST_SMOOTHING * (seconds - old)

    def explore(self) -> bool:
        """Called for a draft the plan refuses: True when it should be verified anyway."""
        self.refused += 1
        return self.refused % EXPLORE_EVERY == 0

    def ratio(self, width: int) -> float:
        """A width's step time over a plain step's (1.0 when either is unmeasured)."""
        plain, wide = self.seconds.get(1), self.seconds.get(width)
        return wide / plain if plain and wide else 1.0


@dataclass(frozen=True, slots=True)
class WidthProbe:
    """Which verification widths (1 + draft length) reproduce single-token logits here."""

    widths: frozenset[int]
    noise: float  # the largest logit difference among the accepted widths
    seconds: tuple[tuple[int, float], ...] = ()  # (width, seconds) of the probe's forwards

    def usable(self, draft_len: int) -> int:
        """The longest draft length <= `draft_len` whose width is exact (0: none)."""
        while draft_len > 0 and draft_len + 1 not in self.widths:
            draft_len -= 1
        return draft_len

    def plan_draft(self, available: int, accept: float, costs: StepCosts) -> int:
        """The draft length <= `available` at an exact width with the most expected tokens
        per unit of step time; 0 when a plain step does better."""
        best_k, best_rate, tokens = 0, 1.0, 1.0
        for k in range(1, available + 1):
            tokens += accept**k
            if k + 1 in self.widths:
                rate = tokens / costs.ratio(k + 1)
                if rate > best_rate * (1 + 1e-9):
                    best_k, best_rate = k, rate
        return best_k

    def near_tie(self, logits: torch.Tensor) -> bool:
        """True when the top two of logits [V] are closer than the measured noise allows."""
        if self.noise == 0.0:
            return False
        top = torch.topk(logits, 2).values
        return float(top[0] - top[1]) <= 2 * self.noise


def probe_widths(
    forward: Callable[[list[int], int], torch.Tensor], prompt: list[int], max_width: int
) -> WidthProbe:
    """Compare each width's logits with token-by-token decoding of the same tokens.

    `forward(tokens, start)` runs the model on one sequence whose first `start` positions are
    cached and returns float logits [len(tokens), V]; it is called with start 0 for the
    prompt, then over the positions after it (each call overwrites what the last wrote).
    Every forward is timed: `seconds` holds each width's median (width 1: the single steps),
    the engine's first guess of what a verification costs.
    """
    base = len(prompt)
    follow = prompt[:max_width] if len(prompt) >= max_width else (prompt * max_width)[:max_width]
    forward(prompt, 0)
    timed: dict[int, list[float]] = {}  # seconds of each forward, by width

    def timed_forward(tokens: list[int], start: int) -> torch.Tensor:
        t0 = time.perf_counter()
        out = forward(tokens, start)
        timed.setdefault(len(tokens), []).append(time.perf_counter() - t0)
        return out

    singles = torch.cat([timed_forward([t], base + i) for i, t in enumerate(follow)])
    widths: set[int] = set()
    noise = 0.0
    for width in range(2, max_width + 1):
        wide = timed_forward(follow[:width], base)
        for _ in range(TIMING_REPEATS - 1):  # the same forward again: its time's median
            timed_forward(follow[:width], base)
        diff = float((wide - singles[:width]).abs().max())
        if diff <= NOISE_TOLERANCE:
            widths.add(width)
            noise = max(noise, diff)
    seconds = tuple((w, sorted(ts)[len(ts) // 2]) for w, ts in sorted(timed.items()))
    return WidthProbe(frozenset(widths), noise, seconds)

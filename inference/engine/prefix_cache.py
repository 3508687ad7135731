"""Prefix reuse: recent prompts keep their K/V in spare cache slots, so a new request that
starts the same way (the agent's system prompt and tool list) skips that part of prefill.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class _Entry:
    slot: int
    tokens: list[int]
    used: int  # logical clock of the last use, for LRU eviction


class PrefixCache:
    """Which spare slot holds which prompt; the engine copies K/V in and out."""

    def __init__(self, slots: list[int], min_tokens: int) -> None:
        self.free = list(slots)
        self.entries: list[_Entry] = []
        self.min_tokens = min_tokens
        self.clock = 0
        self.hits = 0
        self.reused_tokens = 0

    def lookup(self, prompt: list[int]) -> tuple[int, int]:
        """(slot, tokens to reuse) for the longest stored prefix of `prompt`; (-1, 0) if none.

        At least the prompt's last token is left to compute: its logits start the answer.
        """
        best, best_len = None, 0
        for entry in self.entries:
            common = common_prefix_len(entry.tokens, prompt)
            if common > best_len:
                best, best_len = entry, common
        usable = min(best_len, len(prompt) - 1)
        if best is None or usable < self.min_tokens:
            return -1, 0
        self.clock += 1
        best.used = self.clock
        self.hits += 1
        self.reused_tokens += usable
        return best.slot, usable

    def offer(self, prompt: list[int]) -> int:
        """A slot to copy this prompt's K/V into if storing it adds enough; -1 otherwise."""
        if len(prompt) < self.min_tokens or not (self.free or self.entries):
            return -1
        for entry in self.entries:
            if common_prefix_len(entry.tokens, prompt) + self.min_tokens > len(prompt):
                self.clock += 1
                entry.used = self.clock  # already (nearly) stored
                return -1
        if self.free:
            slot = self.free.pop()
        else:
            victim = min(self.entries, key=lambda e: e.used)
            self.entries.remove(victim)
            slot = victim.slot
        self.clock += 1
        self.entries.append(_Entry(slot, list(prompt), self.clock))
        return slot


def common_prefix_len(a: list[int], b: list[int]) -> int:
    """How many leading tokens two lists share."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo] and a[:hi] != b[:hi]: bisect on list slices (C speed)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo

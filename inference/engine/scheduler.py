"""Which sequences wait, which is being prefilled, which decode, and the cache slot of each.

Running sequences occupy cache slots 0..D-1 and the one being prefilled slot D, so the model
attends over a zero-copy view of the cache; when a sequence leaves, the last one moves into
its slot. Owners add and cancel from any thread; the engine thread does the rest.
"""

from __future__ import annotations

import threading
from collections import deque

from inference.engine.sequence import SeqStatus, Sequence
from inference.engine.stats import EngineStats
from inference.errors import OverloadedError
from inference.model.kv_cache import KVCache


class Scheduler:
    """The waiting queue (bounded) and the slots: `running[i]` sits in cache slot i."""

    def __init__(self, max_batch: int, max_waiting: int, stats: EngineStats) -> None:
        self.max_batch = max_batch
        self.max_waiting = max_waiting
        self.stats = stats
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.prefilling: Sequence | None = None  # sits in slot len(running)
        self._wake = threading.Condition()
        self._closed = False

    # -- any thread --------------------------------------------------------------------

    def add(self, seq: Sequence) -> None:
        """Queue `seq`; raises OverloadedError when too many are waiting."""
        with self._wake:
            if len(self.waiting) >= self.max_waiting:
                self.stats.rejected += 1
                raise OverloadedError(
                    f"{len(self.waiting)} requests already waiting: try again shortly",
                    retry_after_s=1 + len(self.waiting) // max(self.max_batch, 1),
                )
            self.waiting.append(seq)
            self._wake.notify()

    def wake(self) -> None:
        """Have the engine thread look again (a sequence was cancelled)."""
        with self._wake:
            self._wake.notify()

    def close(self) -> None:
        """Have `wait_for_work` answer False from now on."""
        with self._wake:
            self._closed = True
            self._wake.notify()

    @property
    def holding_slots(self) -> list[Sequence]:
        """Sequences holding a cache slot: decoding, then the one being prefilled."""
        prefilling = self.prefilling
        return [*self.running, *([prefilling] if prefilling is not None else [])]

    # -- the engine thread -------------------------------------------------------------

    def wait_for_work(self) -> bool:
        """Block until there is a sequence to step (True) or the scheduler is closed (False)."""
        with self._wake:
            while not self._closed and not (self.waiting or self.running or self.prefilling):
                self._wake.wait()
            return not self._closed

    def cancelled_in_slots(self) -> list[Sequence]:
        return [s for s in self.holding_slots if s.cancelled]

    def remove_cancelled_waiting(self) -> list[Sequence]:
        """Take the cancelled sequences out of the queue; they never held a slot."""
        with self._wake:
            gone = [s for s in self.waiting if s.cancelled]
            for seq in gone:
                self.waiting.remove(seq)
        return gone

    def admit(self) -> Sequence | None:
        """Move the next waiting sequence into the prefill slot, if it is free and the
        batch has room."""
        if self.prefilling is not None or len(self.running) >= self.max_batch:
            return None
        with self._wake:
            if not self.waiting:
                return None
            seq = self.waiting.popleft()
        seq.slot = len(self.running)
        seq.status = SeqStatus.PREFILLING
        self.prefilling = seq
        return seq

    def start_decoding(self, seq: Sequence) -> None:
        """`seq`, the one prefilled, now decodes with the others, in the slot it has."""
        self.prefilling = None
        seq.status = SeqStatus.DECODING
        self.running.append(seq)

    def release(self, seq: Sequence, cache: KVCache) -> None:
        """Free the slot of a sequence that ends, moving the last one (and any prefill) down."""
        if seq.status is SeqStatus.DECODING:
            slot = self.running.index(seq)
            last = self.running.pop()
            if last is not seq:
                cache.move(last.slot, slot, last.length)
                last.slot = slot
                self.running[slot] = last
            if self.prefilling is not None:
                cache.move(self.prefilling.slot, len(self.running), self.prefilling.cached)
                self.prefilling.slot = len(self.running)
        elif seq is self.prefilling:
            self.prefilling = None

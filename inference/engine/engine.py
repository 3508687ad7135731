"""The engine: continuous batching over one model, in a thread of its own.

Each step runs one prefill chunk of the sequence being admitted (so a long prompt never
stalls the others for long) and one batched decode of every running sequence. Requests
join and leave between steps. `Engine` puts the parts together: its thread
(`engine_thread`), the queue and cache slots (`scheduler`), the model's forwards
(`model_runner`), the tokens and events they produce (`delivery`), and the C++ decode
step (`fused_extension`).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

import torch

from inference.config import EngineConfig
from inference.engine.delivery import Delivery
from inference.engine.engine_thread import EngineThread
from inference.engine.fused_extension import FusedExtension
from inference.engine.model_runner import ModelRunner
from inference.engine.sampling import make_generator
from inference.engine.scheduler import Scheduler
from inference.engine.sequence import Event, SamplingParams, Sequence
from inference.engine.speculation import StepCosts, WidthProbe
from inference.engine.stats import EngineStats
from inference.engine.stopping import StopChecker
from inference.loading.loaded_model import LoadedModel
from inference.model.kv_cache import KVCache
from inference.model.transformer import Transformer

log = logging.getLogger(__name__)


class Engine:
    """Owns the model and its cache; `submit` from any thread, `start` runs the loop."""

    def __init__(self, loaded: LoadedModel, config: EngineConfig | None = None) -> None:
        self.config = config = config or EngineConfig()
        self.loaded = loaded
        self.tokenizer = loaded.tokenizer
        self.stats = EngineStats()
        self.runner = ModelRunner(loaded, config, self.stats)
        self.device = self.runner.device
        self.max_seq_len = self.runner.max_seq_len
        self.n_slots = self.runner.n_slots
        self.speculation = self.runner.speculation
        self.prefixes = self.runner.prefixes
        self.scheduler = Scheduler(config.max_batch, config.max_waiting, self.stats)
        self.delivery = Delivery(
            self.tokenizer, loaded.args.vocab_size, self.max_seq_len, self.stats, self._release
        )
        self.extension = FusedExtension()
        self._thread = EngineThread(self._build, self._serve)

    def _build(self) -> None:
        self.runner.build()
        if self.config.fused:
            self.extension.start(self.runner.model)
        self.runner.probe()  # through the C++ blocks when they are attached already

    # -- the owner's side ------------------------------------------------------------

    def submit(
        self,
        prompt_ids: list[int],
        params: SamplingParams,
        emit: Callable[[Event], None],
        constraint: object = None,
    ) -> Sequence:
        """Queue a request; raises OverloadedError when too many are waiting."""
        seq = Sequence(prompt_ids, params, emit, constraint)
        seq.decoder = self.tokenizer.stream_decoder()
        seq.stopper = StopChecker(params.stop)
        seq.generator = make_generator(params.seed) if params.temperature > 0 else None
        self.scheduler.add(seq)
        return seq

    def cancel(self, seq: Sequence) -> None:
        seq.cancelled = True
        self.scheduler.wake()

    def start(self) -> None:
        """Begin serving: the engine thread starts taking requests."""
        self._thread.start()

    def stop(self) -> None:
        self.scheduler.close()
        self._thread.join()

    @property
    def model(self) -> Transformer:
        return self.runner.model

    @property
    def cache(self) -> KVCache:
        return self.runner.cache

    @property
    def weights(self) -> str:
        """ "dense", "int4" or "int8", as built."""
        return self.runner.weights

    @property
    def widths(self) -> WidthProbe:
        """The draft widths that verify exactly on this build (empty: no speculation)."""
        return self.runner.widths

    @property
    def costs(self) -> StepCosts:
        """One sequence's step time by width, which drafts are weighed with."""
        return self.runner.costs

    @costs.setter
    def costs(self, costs: StepCosts) -> None:
        self.runner.costs = costs

    @property
    def dtype(self) -> torch.dtype:
        """The model's dtype, as built (`EngineConfig.dtype` "auto" resolved)."""
        return self.runner.dtype

    @property
    def fused_decode(self) -> bool:
        """Whether decode steps run through the C++ blocks (prefill stays in Python)."""
        return self.runner.model.fused is not None

    @property
    def waiting(self) -> deque[Sequence]:
        return self.scheduler.waiting

    @property
    def running(self) -> list[Sequence]:
        """The decoding sequences; running[i] sits in cache slot i."""
        return self.scheduler.running

    @property
    def prefilling(self) -> Sequence | None:
        """The sequence being prefilled, in slot len(running)."""
        return self.scheduler.prefilling

    @property
    def queue_depth(self) -> int:
        return len(self.scheduler.waiting)

    @property
    def running_count(self) -> int:
        """Sequences holding a cache slot: decoding, or being prefilled."""
        return len(self.scheduler.running) + (self.scheduler.prefilling is not None)

    @property
    def kv_cache_usage(self) -> float:
        """Fraction of the running slots' token positions in use (0..1)."""
        used = sum(s.length for s in list(self.scheduler.running))
        prefilling = self.scheduler.prefilling
        if prefilling is not None:
            used += prefilling.cached
        return used / (self.config.max_batch * self.max_seq_len)

    # -- the engine thread -----------------------------------------------------------

    def _serve(self) -> None:
        while self.scheduler.wait_for_work():
            try:
                self.step()
            except Exception as exc:  # a failure of the whole batch (the model's forward)
                log.exception("engine step failed")
                for seq in self.scheduler.holding_slots:
                    self.delivery.finish(seq, "error", error=f"engine error: {exc}")

    @torch.inference_mode()
    def step(self) -> None:
        """One round: admit, prefill a chunk, decode everyone running."""
        self.extension.poll(self.runner.model)
        self._drop_cancelled()
        self._admit()
        seq = self.scheduler.prefilling
        if seq is not None:
            try:
                self._prefill_chunk(seq)
            except Exception as exc:  # this prompt's failure, not the batch's
                self.delivery.fail(seq, exc)
        if self.scheduler.running:
            self._decode()

    def _drop_cancelled(self) -> None:
        for seq in self.scheduler.cancelled_in_slots():
            self.delivery.finish(seq, "cancelled")
        for seq in self.scheduler.remove_cancelled_waiting():
            self.delivery.drop_waiting(seq)

    def _admit(self) -> None:
        seq = self.scheduler.admit()
        if seq is None:
            return
        try:
            self.runner.reuse_prefix(seq)
        except Exception as exc:
            self.delivery.fail(seq, exc)

    def _prefill_chunk(self, seq: Sequence) -> None:
        logits = self.runner.prefill_chunk(seq)
        if seq.cached < len(seq.prompt_ids):
            return
        self.scheduler.start_decoding(seq)
        self.runner.finish_prefill(seq)
        self.delivery.take_tokens([seq], logits)

    def _decode(self) -> None:
        batch = list(self.scheduler.running)
        drafts = self.runner.drafts(batch)
        if not any(drafts):
            self.delivery.take_tokens(batch, self.runner.decode(batch))
            return
        logits = self.runner.verify(batch, drafts)
        # Last row first: a finished sequence's slot is refilled by the last running one,
        # whose accepted tokens' K/V must already count in the length that is moved.
        for b in reversed(range(len(batch))):
            self.delivery.take_verified(batch[b], logits[b], drafts[b], self.runner.widths)

    def _release(self, seq: Sequence) -> None:
        self.scheduler.release(seq, self.runner.cache)

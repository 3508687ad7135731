"""The model and its KV cache on the engine thread: built from a `LoadedModel`, probed for
the draft widths that verify exactly, and run forward for a prefill chunk, a batched decode
step, or one verification of every sequence's draft.
"""

from __future__ import annotations

import logging
import time
from typing import Literal

import torch

from inference.config import EngineConfig
from inference.engine.prefix_cache import PrefixCache
from inference.engine.probe_cache import cached_probe, probe_key
from inference.engine.sequence import Sequence
from inference.engine.speculation import (
    NgramDrafter,
    SpeculationConfig,
    StepCosts,
    WidthProbe,
    probe_widths,
)
from inference.engine.stats import EngineStats
from inference.fused import extension
from inference.loading.loaded_model import LoadedModel
from inference.model.kv_cache import KVCache
from inference.model.linears import can_pack
from inference.model.memory import trim_heap
from inference.model.transformer import Transformer

log = logging.getLogger(__name__)

QUANTIZED: dict[str, Literal["int4", "int8"]] = {"int4": "int4", "int8": "int8"}
_PROBE_TEXT = "Job 1234 waits for 4 nodes; the backfill pass plans it after job 1230 ends."


def pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """The model's dtype; "auto": bfloat16 where it runs natively, else float32.

    Without oneDNN bf16 kernels (an AVX2-only CPU) every bf16 matmul converts to float32 and
    back: a 200-token prefill of the embedded model ran 3.7x slower in bf16 than in float32,
    one decode row 2.2x (AMD EPYC, AVX2, 2 cores).
    """
    if dtype != "auto":
        return torch.bfloat16 if dtype == "bfloat16" else torch.float32
    if device.type == "cuda":
        native = torch.cuda.is_bf16_supported()
    else:
        native = can_pack(torch.bfloat16, device)
    return torch.bfloat16 if native else torch.float32


def resolve_weights(
    weights: str, loaded: LoadedModel, dtype: torch.dtype, device: torch.device
) -> str:
    """The weights as built ("dense", "int4" or "int8"); "auto" keeps a 4-bit file 4-bit."""
    if weights != "auto":
        return weights
    return "int4" if loaded.four_bit and can_pack(dtype, device) else "dense"


class ModelRunner:
    """Builds the model (on the engine thread) and runs its forwards over the cache slots."""

    model: Transformer  # built, with the cache, by `build`
    cache: KVCache
    weights: str  # "dense", "int4" or "int8", as built
    dtype: torch.dtype  # as built (`config.dtype` "auto" resolved)
    widths: WidthProbe  # by `probe`
    costs: StepCosts

    def __init__(self, loaded: LoadedModel, config: EngineConfig, stats: EngineStats) -> None:
        self.config = config
        self.loaded = loaded
        self.stats = stats
        self.device = pick_device(config.device)
        self.max_seq_len = min(config.max_seq_len, loaded.args.max_seq_len)
        self.n_slots = config.max_batch + config.prefix_slots  # running, then prefix copies
        self.speculation = SpeculationConfig(max_draft=config.draft_tokens)
        self.prefixes = PrefixCache(list(range(config.max_batch, self.n_slots)), config.min_prefix)

    def build(self) -> None:
        """The model from the loaded weights (which it then drops), and the cache."""
        config, loaded = self.config, self.loaded
        if config.threads:
            torch.set_num_threads(config.threads)
        self.dtype = dtype = resolve_dtype(config.dtype, self.device)
        self.weights = resolve_weights(config.weights, loaded, dtype, self.device)
        self.model = Transformer.from_state_dict(
            loaded.args,
            loaded.state_dict,
            dtype=dtype,
            device=self.device,
            quantize=QUANTIZED.get(self.weights),
            dense_copies=config.dense_copies,
        )
        loaded.release_weights()  # the model holds its own copy
        trim_heap()
        self.cache = KVCache(
            loaded.args, self.n_slots, self.max_seq_len, dtype=dtype, device=self.device
        )

    def probe(self) -> None:
        """Measure which draft widths verify exactly, on the model as it will run."""
        self.widths = WidthProbe(frozenset(), 0.0)
        if self.speculation.enabled:
            key = probe_key(self.loaded.source, build=self._build_facts(), device=self.device)
            self.widths, stored = cached_probe(key, self._probe_widths)
            if stored:
                log.info("speculation: exact verification widths %s (stored probe)",
                         sorted(self.widths.widths) or "none (off)")  # fmt: skip
        self.costs = StepCosts(dict(self.widths.seconds))

    def _build_facts(self) -> dict[str, str]:
        """What the probe's answer depends on besides the file, device and versions."""
        fused = self.model.fused is not None
        return {
            "weights": self.weights,
            "dtype": str(self.dtype).removeprefix("torch."),
            "dense_copies": str(self.config.dense_copies),
            "fused": extension.module_name() if fused else "off",
            "max_width": str(self.speculation.max_draft + 1),
        }

    @torch.inference_mode()
    def _probe_widths(self) -> WidthProbe:
        """Which draft widths verify exactly on this build (slot 0, before any request)."""

        def forward(tokens: list[int], start: int) -> torch.Tensor:
            ids = torch.tensor([tokens], device=self.device)
            at = torch.tensor([start], device=self.device)
            logits: torch.Tensor = self.model(
                ids, at, self.cache, 0, last_only=False, per_token=True
            )
            return logits[0].float().cpu()

        prompt = self.loaded.tokenizer.encode(_PROBE_TEXT)
        probe = probe_widths(forward, prompt, self.speculation.max_draft + 1)
        log.info("speculation: exact verification widths %s", sorted(probe.widths) or "none (off)")
        return probe

    # -- prefill ---------------------------------------------------------------------

    def reuse_prefix(self, seq: Sequence) -> None:
        """Copy the longest cached prefix of `seq`'s prompt into its slot."""
        src, reuse = self.prefixes.lookup(seq.prompt_ids)
        self.stats.prefix_cache_queries += len(seq.prompt_ids)
        if reuse:
            self.cache.copy_prefix(src, seq.slot, reuse)
            seq.cached = seq.reused_prefix = reuse
            self.stats.prefix_cache_hits += reuse

    def prefill_chunk(self, seq: Sequence) -> torch.Tensor:
        """Run the next chunk of `seq`'s prompt; the last position's logits [1, V]."""
        end = min(seq.cached + self.config.prefill_chunk, len(seq.prompt_ids))
        chunk = torch.tensor([seq.prompt_ids[seq.cached : end]], device=self.device)
        start = torch.tensor([seq.cached], device=self.device)
        logits: torch.Tensor = self.model(chunk, start, self.cache, first_slot=seq.slot)
        self.stats.prompt_tokens += end - seq.cached
        seq.cached = end
        return logits

    def finish_prefill(self, seq: Sequence) -> None:
        """Keep the prompt's K/V for later requests that start the same way, and give a
        greedy sequence its drafter."""
        keep = self.prefixes.offer(seq.prompt_ids)
        if keep >= 0:
            self.cache.copy_prefix(seq.slot, keep, len(seq.prompt_ids))
        if self.speculation.enabled and seq.params.temperature == 0.0:
            seq.drafter = NgramDrafter(self.speculation, seq.prompt_ids)

    # -- decode ----------------------------------------------------------------------

    def drafts(self, batch: list[Sequence]) -> list[list[int]]:
        """Each sequence's draft for this step (empty: no speculation for it)."""
        spec = self.speculation
        held = [s for s in batch if s.drafter is not None and s.drafter.hold]
        if not spec.enabled or len(batch) > spec.max_batch or held:
            for s in held:
                s.drafter.hold = False  # this step decodes plainly, as without speculation
            return [[] for _ in batch]
        # Every row writes `width` positions, so the fullest sequence bounds all drafts.
        room = min(self.max_seq_len - s.length for s in batch)
        limit = min(spec.draft_budget(len(batch), self.model.args.vocab_size), room)
        drafts: list[list[int]] = []
        for s in batch:
            if s.drafter is None:
                drafts.append([])
                continue
            draft = s.drafter.propose(min(limit, s.tokens_left(self.max_seq_len) - 1))
            k = self.widths.plan_draft(len(draft), s.drafter.accept_rate, self.costs)
            if draft and not k:
                if self.costs.explore():  # re-time the width and re-test the drafts
                    k = self.widths.usable(len(draft))
                else:
                    s.drafter.skip(draft)  # not worth a verification now; still scored
            drafts.append(draft[:k])
        return drafts

    def decode(self, batch: list[Sequence]) -> torch.Tensor:
        """One decode step of the running sequences (slots 0..B-1); logits [B, V]."""
        tokens = torch.tensor([[s.output_ids[-1]] for s in batch], device=self.device)
        start = torch.tensor([s.length - 1 for s in batch], device=self.device)
        t0 = time.perf_counter()
        logits: torch.Tensor = self.model(tokens, start, self.cache, first_slot=0)
        self._timed(batch, 1, t0, logits)
        return logits

    def verify(self, batch: list[Sequence], drafts: list[list[int]]) -> torch.Tensor:
        """Every draft in one forward; logits [B, T, V] over [last token, draft, padding]."""
        width = 1 + max(map(len, drafts))
        # Row b is [last token, draft, padding] ([B, T]); the padding's K/V land past the
        # row's end, where nothing reads them.
        rows = [[s.output_ids[-1], *d] for s, d in zip(batch, drafts, strict=True)]
        tokens = torch.tensor([r + r[:1] * (width - len(r)) for r in rows], device=self.device)
        start = torch.tensor([s.length - 1 for s in batch], device=self.device)
        t0 = time.perf_counter()
        logits: torch.Tensor = self.model(
            tokens, start, self.cache, first_slot=0, last_only=False, per_token=len(batch) == 1
        )
        self._timed(batch, width, t0, logits)
        return logits

    def _timed(self, batch: list[Sequence], width: int, t0: float, logits: torch.Tensor) -> None:
        """Keep one sequence's step time by width: what `plan_draft` weighs drafts with."""
        if len(batch) == 1 and self.speculation.enabled:
            if logits.is_cuda:
                torch.cuda.synchronize(logits.device)
            self.costs.observe(width, time.perf_counter() - t0)

"""The engine: continuous batching over one model, in a thread of its own.

Each step runs one prefill chunk of the sequence being admitted (so a long prompt never
stalls the others for long) and one batched decode of every running sequence. Requests
join and leave between steps. Running sequences occupy cache slots 0..D-1 and the one
being prefilled slot D, so the model attends over a zero-copy view of the cache; when a
sequence leaves, the last one moves into its slot.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from functools import cached_property
from types import ModuleType
from typing import Literal

import torch

from inference import fused
from inference.config import EngineConfig
from inference.errors import OverloadedError
from inference.kv_cache import KVCache
from inference.linears import can_pack
from inference.loading import LoadedModel
from inference.logprobs import token_logprob
from inference.memory import trim_heap
from inference.model import Transformer
from inference.prefix_cache import PrefixCache
from inference.sampling import make_generator, sample
from inference.sequence import Event, SamplingParams, SeqStatus, Sequence, TokenLogprob
from inference.speculation import (
    NgramDrafter,
    SpeculationConfig,
    StepCosts,
    WidthProbe,
    probe_widths,
)
from inference.stats import EngineStats
from inference.stopping import StopChecker

log = logging.getLogger(__name__)

# The last tokens of a structured answer's budget are spent closing it: greedy, and among the
# tokens the grammar allows, those that only close strings, arrays or objects come first, then
# those that also hold a comma (the way out of a number or a string before the next key).
CLOSING_TOKENS = 32
_CLOSERS = frozenset('"]}')
_CLOSING_BIAS = {False: 2e4, True: 1e4}  # by whether the token holds a comma


QUANTIZED: dict[str, Literal["int4", "int8"]] = {"int4": "int4", "int8": "int8"}
_PROBE_TEXT = "Job 1234 waits for 4 nodes; the backfill pass plans it after job 1230 ends."


def pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_weights(
    weights: str, loaded: LoadedModel, dtype: torch.dtype, device: torch.device
) -> str:
    """The weights as built ("dense", "int4" or "int8"); "auto" keeps a 4-bit file 4-bit."""
    if weights != "auto":
        return weights
    return "int4" if loaded.four_bit and can_pack(dtype, device) else "dense"


class Engine:
    """Owns the model and its cache; `submit` from any thread, `start` runs the loop."""

    model: Transformer  # built, with the cache, on the engine thread
    cache: KVCache
    weights: str  # "dense", "int4" or "int8", as built

    def __init__(self, loaded: LoadedModel, config: EngineConfig | None = None) -> None:
        self.config = config = config or EngineConfig()
        self.loaded = loaded
        self.tokenizer = loaded.tokenizer
        self.device = pick_device(config.device)
        self.max_seq_len = min(config.max_seq_len, loaded.args.max_seq_len)
        self.n_slots = config.max_batch + config.prefix_slots  # running, then prefix copies
        self.speculation = SpeculationConfig(max_draft=config.draft_tokens)
        self.prefixes = PrefixCache(list(range(config.max_batch, self.n_slots)), config.min_prefix)
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []  # running[i] sits in cache slot i
        self.prefilling: Sequence | None = None  # sits in slot len(running)
        self.stats = EngineStats()
        self._wake = threading.Condition()
        self._stop = False
        self._fused_build: Future[ModuleType] | None = None  # compiling in the background
        self._started = threading.Event()
        # One thread does all of the model's work, its build included: OpenMP keeps a pool
        # of worker threads per thread that runs parallel code, and with more pool threads
        # than cores GNU OpenMP stops spinning between regions (decode ran 2x slower when
        # the weights were built on the caller's thread and run on this one).
        built: list[BaseException | None] = []
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(built, ready), name="llm-engine", daemon=True
        )
        self._thread.start()
        ready.wait()
        if built[0] is not None:
            raise built[0]

    def _build(self) -> None:
        config, loaded = self.config, self.loaded
        if config.threads:
            torch.set_num_threads(config.threads)
        dtype = torch.bfloat16 if config.dtype == "bfloat16" else torch.float32
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
        if config.fused:
            self._start_fused()
        self.widths = WidthProbe(frozenset(), 0.0)
        if self.speculation.enabled:
            self.widths = self._probe_widths()
        self.costs = StepCosts(dict(self.widths.seconds))

    def _start_fused(self) -> None:
        """Use the C++ blocks now if built; else build them in the background (`step` attaches
        them when ready) while decoding runs in Python."""
        if not fused.supports(self.model):
            return
        module = fused.built()
        if module is not None:
            self._attach_fused(module)
            return
        future: Future[ModuleType] = Future()

        def build() -> None:
            try:
                future.set_result(fused.build())
            except BaseException as exc:  # the future always finishes; the engine logs it
                future.set_exception(exc)

        log.info("fused decode: compiling the C++ blocks in the background (~30 s, once)")
        threading.Thread(target=build, name="fused-build", daemon=True).start()
        self._fused_build = future

    def _attach_fused(self, module: ModuleType) -> None:
        try:
            with torch.inference_mode():
                used = fused.attach(self.model, module)
        except Exception:  # a broken extension must not stop the engine: Python still runs
            log.exception("fused decode: off: attaching the C++ blocks failed")
            self.model.fused = None
            return
        log.info("fused decode: %s", "on" if used else "off (see the warning above)")

    def _check_fused_build(self) -> None:
        future = self._fused_build
        if future is None or not future.done():
            return
        self._fused_build = None
        try:
            module = future.result()
        except Exception as exc:
            log.warning("fused decode: off: %s", exc)
            return
        self._attach_fused(module)

    @property
    def fused_decode(self) -> bool:
        """Whether decode steps run through the C++ blocks (prefill stays in Python)."""
        return self.model.fused is not None

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

        prompt = self.tokenizer.encode(_PROBE_TEXT)
        probe = probe_widths(forward, prompt, self.speculation.max_draft + 1)
        log.info("speculation: exact verification widths %s", sorted(probe.widths) or "none (off)")
        return probe

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
        with self._wake:
            if len(self.waiting) >= self.config.max_waiting:
                self.stats.rejected += 1
                raise OverloadedError(
                    f"{len(self.waiting)} requests already waiting: try again shortly",
                    retry_after_s=1 + len(self.waiting) // max(self.config.max_batch, 1),
                )
            self.waiting.append(seq)
            self._wake.notify()
        return seq

    def cancel(self, seq: Sequence) -> None:
        seq.cancelled = True
        with self._wake:
            self._wake.notify()

    def start(self) -> None:
        """Begin serving: the engine thread starts taking requests."""
        self._started.set()

    def stop(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify()
        self._started.set()
        self._thread.join(timeout=30)

    @property
    def queue_depth(self) -> int:
        return len(self.waiting)

    @property
    def running_count(self) -> int:
        """Sequences holding a cache slot: decoding, or being prefilled."""
        return len(self.running) + (self.prefilling is not None)

    @property
    def kv_cache_usage(self) -> float:
        """Fraction of the running slots' token positions in use (0..1)."""
        used = sum(s.length for s in list(self.running))
        prefilling = self.prefilling
        if prefilling is not None:
            used += prefilling.cached
        return used / (self.config.max_batch * self.max_seq_len)

    # -- the engine thread -----------------------------------------------------------

    def _run(self, built: list[BaseException | None], ready: threading.Event) -> None:
        try:
            self._build()
        except BaseException as exc:  # handed to the constructor, which raises it
            built.append(exc)
            ready.set()
            return
        built.append(None)
        ready.set()
        self._started.wait()
        self._loop()

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._stop and not (self.waiting or self.running or self.prefilling):
                    self._wake.wait()
                if self._stop:
                    break
            try:
                self.step()
            except Exception as exc:  # a failure of the whole batch (the model's forward)
                log.exception("engine step failed")
                for seq in [*self.running, *([self.prefilling] if self.prefilling else [])]:
                    self._finish(seq, "error", error=f"engine error: {exc}")

    @torch.inference_mode()
    def step(self) -> None:
        """One round: admit, prefill a chunk, decode everyone running."""
        self._check_fused_build()
        self._drop_cancelled()
        self._admit()
        if self.prefilling is not None:
            seq = self.prefilling
            try:
                self._prefill_chunk(seq)
            except Exception as exc:  # this prompt's failure, not the batch's
                self._fail(seq, exc)
        if self.running:
            self._decode()

    def _drop_cancelled(self) -> None:
        for seq in [s for s in self.running if s.cancelled]:
            self._finish(seq, "cancelled")
        if self.prefilling is not None and self.prefilling.cancelled:
            self._finish(self.prefilling, "cancelled")
        with self._wake:
            gone = [s for s in self.waiting if s.cancelled]
            for seq in gone:
                self.waiting.remove(seq)
        for seq in gone:
            seq.status = SeqStatus.FINISHED
            self.stats.finished["cancelled"] = self.stats.finished.get("cancelled", 0) + 1
            self._emit(seq, Event(finish_reason="cancelled"))

    def _admit(self) -> None:
        if self.prefilling is not None or len(self.running) >= self.config.max_batch:
            return
        with self._wake:
            if not self.waiting:
                return
            seq = self.waiting.popleft()
        seq.slot = len(self.running)
        seq.status = SeqStatus.PREFILLING
        self.prefilling = seq
        try:
            src, reuse = self.prefixes.lookup(seq.prompt_ids)
            self.stats.prefix_cache_queries += len(seq.prompt_ids)
            if reuse:
                self.cache.copy_prefix(src, seq.slot, reuse)
                seq.cached = seq.reused_prefix = reuse
                self.stats.prefix_cache_hits += reuse
        except Exception as exc:
            self._fail(seq, exc)

    def _prefill_chunk(self, seq: Sequence) -> None:
        end = min(seq.cached + self.config.prefill_chunk, len(seq.prompt_ids))
        chunk = torch.tensor([seq.prompt_ids[seq.cached : end]], device=self.device)
        start = torch.tensor([seq.cached], device=self.device)
        logits = self.model(chunk, start, self.cache, first_slot=seq.slot)
        self.stats.prompt_tokens += end - seq.cached
        seq.cached = end
        if end < len(seq.prompt_ids):
            return
        self.prefilling = None
        keep = self.prefixes.offer(seq.prompt_ids)
        if keep >= 0:
            self.cache.copy_prefix(seq.slot, keep, len(seq.prompt_ids))
        seq.status = SeqStatus.DECODING
        if self.speculation.enabled and seq.params.temperature == 0.0:
            seq.drafter = NgramDrafter(self.speculation, seq.prompt_ids)
        self.running.append(seq)
        self._take_tokens([seq], logits)

    def _decode(self) -> None:
        batch = list(self.running)
        drafts = self._drafts(batch)
        width = 1 + max(map(len, drafts))
        if width == 1:
            tokens = torch.tensor([[s.output_ids[-1]] for s in batch], device=self.device)
            start = torch.tensor([s.length - 1 for s in batch], device=self.device)
            t0 = time.perf_counter()
            logits = self.model(tokens, start, self.cache, first_slot=0)
            self._timed(batch, width, t0, logits)
            self._take_tokens(batch, logits)
            return
        # Verify every draft in one forward: row b is [last token, draft, padding] ([B, T]);
        # the padding's K/V land past the row's end, where nothing reads them.
        rows = [[s.output_ids[-1], *d] for s, d in zip(batch, drafts, strict=True)]
        tokens = torch.tensor([r + r[:1] * (width - len(r)) for r in rows], device=self.device)
        start = torch.tensor([s.length - 1 for s in batch], device=self.device)
        t0 = time.perf_counter()
        logits = self.model(
            tokens, start, self.cache, first_slot=0, last_only=False, per_token=len(batch) == 1
        )
        self._timed(batch, width, t0, logits)
        # Last row first: a finished sequence's slot is refilled by the last running one,
        # whose accepted tokens' K/V must already count in the length that is moved.
        for b in reversed(range(len(batch))):
            self._take_verified(batch[b], logits[b], drafts[b])

    def _drafts(self, batch: list[Sequence]) -> list[list[int]]:
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
            draft = s.drafter.propose(min(limit, self._tokens_left(s) - 1))
            k = self.widths.plan_draft(len(draft), s.drafter.accept_rate, self.costs)
            if draft and not k:
                if self.costs.explore():  # re-time the width and re-test the drafts
                    k = self.widths.usable(len(draft))
                else:
                    s.drafter.skip(draft)  # not worth a verification now; still scored
            drafts.append(draft[:k])
        return drafts

    def _timed(self, batch: list[Sequence], width: int, t0: float, logits: torch.Tensor) -> None:
        """Keep one sequence's step time by width: what `plan_draft` weighs drafts with."""
        if len(batch) == 1 and self.speculation.enabled:
            if logits.is_cuda:
                torch.cuda.synchronize(logits.device)
            self.costs.observe(width, time.perf_counter() - t0)

    def _take_verified(self, seq: Sequence, logits: torch.Tensor, draft: list[int]) -> None:
        """Deliver greedy picks from logits [T, V] while they agree with the draft."""
        accepted = 0
        tie = False
        for i in range(len(draft) + 1):
            if seq.drafter is not None and self.widths.near_tie(logits[i]):
                seq.drafter.hold = tie = True  # rounding could decide it: a plain step will
                break
            self._take_tokens([seq], logits[i : i + 1])
            if seq.status is SeqStatus.FINISHED or i == len(draft):
                break
            if seq.output_ids[-1] != draft[i]:
                break
            accepted += 1
        if draft and seq.drafter is not None:
            seq.drafter.record(len(draft), accepted, tie=tie)
            self.stats.draft_tokens += len(draft)
            self.stats.accepted_draft_tokens += accepted

    def _take_tokens(self, batch: list[Sequence], logits: torch.Tensor) -> None:
        """Sample one token for each sequence from logits [B, V] and deliver it.

        What fails for one sequence (its grammar, its sampling, its stop check, its
        detokenizing) ends that sequence with an error event; the others go on.
        """
        logits = logits.float().cpu()
        # Log-probabilities as the model gives them, before grammar masks and temperature.
        asked = [i for i, s in enumerate(batch) if s.params.logprobs is not None]
        raw = {i: logits[i].log_softmax(-1) for i in asked}
        failed: dict[int, Exception] = {}
        constrained = [i for i, s in enumerate(batch) if s.constraint is not None]
        if constrained:
            from inference.constraints import allocate_bitmask, apply_masks

            bitmask = allocate_bitmask(len(batch), logits.shape[-1])
            for i in constrained:
                try:
                    batch[i].constraint.fill_mask(bitmask, i)
                except Exception as exc:
                    failed[i] = exc
            apply_masks(logits, bitmask)
        closing = {i for i in constrained if self._tokens_left(batch[i]) <= CLOSING_TOKENS}
        if closing:
            logits[sorted(closing)] += self.closing_bias
        now = time.perf_counter()
        for i, seq in enumerate(batch):
            if i in failed:
                self._fail(seq, failed[i])
                continue
            try:
                params = replace(seq.params, temperature=0.0) if i in closing else seq.params
                token = sample(logits[i], params, seq.generator)
                self._observe_token(seq, now)
                entry = token_logprob(raw[i], token, seq.params.logprobs) if i in raw else None
                self._deliver(seq, token, entry)
            except Exception as exc:
                self._fail(seq, exc)

    def _observe_token(self, seq: Sequence, now: float) -> None:
        if seq.first_token_s is None:
            seq.first_token_s = now
            self.stats.ttft.observe(now - seq.created_s)
        else:
            self.stats.inter_token.observe(now - (seq.last_token_s or now))
        seq.last_token_s = now
        self.stats.generated_tokens += 1

    def _fail(self, seq: Sequence, exc: Exception) -> None:
        """End one sequence whose own step failed, telling its owner why."""
        log.error("sequence %d failed: %s", seq.id, exc, exc_info=exc)
        self._finish(seq, "error", error=f"request failed in the engine: {exc}")

    def _tokens_left(self, seq: Sequence) -> int:
        """Tokens `seq` may still generate before max_tokens or the context ends it."""
        return min(seq.params.max_tokens - len(seq.output_ids), self.max_seq_len - seq.length)

    @cached_property
    def closing_bias(self) -> torch.Tensor:
        """[vocab] logit bonus of the tokens that end JSON values (`"`, `]`, `}`, `",` ...)."""
        bias = torch.zeros(self.model.args.vocab_size)
        for i in range(self.tokenizer.vocab_size):
            text = self.tokenizer.decode([i]).replace(" ", "")
            if text and set(text) <= _CLOSERS | {","}:
                bias[i] = _CLOSING_BIAS["," in text]
        return bias

    def _deliver(self, seq: Sequence, token: int, entry: TokenLogprob | None = None) -> None:
        if seq.constraint is not None and token not in self.tokenizer.eos_ids:
            seq.constraint.accept(token)
        if token in self.tokenizer.eos_ids:
            self._finish(seq, "stop")
            return
        seq.output_ids.append(token)
        if entry is not None:
            seq.logprobs.append(entry)
        if seq.drafter is not None:
            seq.drafter.extend([token])
        seq.text += seq.decoder.push(token)
        stop = seq.stopper
        cut = stop.find(seq.text)
        if cut is not None:
            seq.text = seq.text[:cut]
            self._finish(seq, "stop")
            return
        done = seq.constraint is not None and seq.constraint.is_done()
        if done:
            self._finish(seq, "stop")
        elif len(seq.output_ids) >= seq.params.max_tokens or seq.length >= self.max_seq_len:
            self._finish(seq, "length")
        else:
            safe = stop.safe_length(seq.text)
            if safe > seq.emitted:
                text, seq.emitted = seq.text[seq.emitted : safe], safe
                self._emit(seq, Event(text, *_unreported(seq)))

    def _finish(self, seq: Sequence, reason: str, *, error: str | None = None) -> None:
        if seq.status is SeqStatus.FINISHED:
            return
        if seq.status is SeqStatus.DECODING:
            self._release(seq)
        elif seq is self.prefilling:
            self.prefilling = None
        seq.status = SeqStatus.FINISHED
        rest = seq.text[seq.emitted :] if reason in ("stop", "length") else ""
        seq.emitted = len(seq.text)
        self.stats.finished[reason] = self.stats.finished.get(reason, 0) + 1
        self.stats.e2e.observe(time.perf_counter() - seq.created_s)
        self._emit(seq, Event(rest, *_unreported(seq), finish_reason=reason, error=error))

    @staticmethod
    def _emit(seq: Sequence, event: Event) -> None:
        try:
            seq.emit(event)
        except Exception:  # an owner that is gone (its event loop closed) cannot be told
            log.exception("sequence %d: its owner could not take an event", seq.id)

    def _release(self, seq: Sequence) -> None:
        """Free a running sequence's slot, moving the last one (and any prefill) down."""
        slot = self.running.index(seq)
        last = self.running.pop()
        if last is not seq:
            self.cache.move(last.slot, slot, last.length)
            last.slot = slot
            self.running[slot] = last
        if self.prefilling is not None:
            self.cache.move(self.prefilling.slot, len(self.running), self.prefilling.cached)
            self.prefilling.slot = len(self.running)


def _unreported(seq: Sequence) -> tuple[tuple[int, ...], tuple[TokenLogprob, ...]]:
    """The tokens no event has carried yet (text held back for a stop sequence or an
    unfinished character, or the last one), and their logprobs when asked: summed over
    events, every generated token."""
    ids = tuple(seq.output_ids[seq.reported :])
    logprobs = tuple(seq.logprobs[seq.reported :])
    seq.reported = len(seq.output_ids)
    return ids, logprobs

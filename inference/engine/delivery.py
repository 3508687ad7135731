"""A step's logits become each sequence's next token, and tokens become its owner's events.

A token is sampled under the sequence's grammar and parameters, checked against its stop
strings, end of output and limits, and sent as text once no stop string can still claim it.
What fails for one sequence (its grammar, its sampling, its stop check, its detokenizing)
ends that sequence with an error event; the others go on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from functools import cached_property

import torch

from inference.engine.logprobs import token_logprob
from inference.engine.sampling import sample
from inference.engine.sequence import Event, SeqStatus, Sequence, TokenLogprob
from inference.engine.speculation import WidthProbe
from inference.engine.stats import EngineStats
from inference.loading.tokenizer import Tokenizer

log = logging.getLogger(__name__)

# The last tokens of a structured answer's budget are spent closing it: greedy, and among the
# tokens the grammar allows, those that only close strings, arrays or objects come first, then
# those that also hold a comma (the way out of a number or a string before the next key).
CLOSING_TOKENS = 32
_CLOSERS = frozenset('"]}')
_CLOSING_BIAS = {False: 2e4, True: 1e4}  # by whether the token holds a comma


class Delivery:
    """Takes tokens from logits for sequences and tells their owners; `release` frees the
    cache slot of a sequence that finishes."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        vocab_size: int,
        max_seq_len: int,
        stats: EngineStats,
        release: Callable[[Sequence], None],
    ) -> None:
        self.tokenizer = tokenizer
        self.vocab_size = vocab_size
        self.max_seq_len = max_seq_len
        self.stats = stats
        self.release = release

    def take_tokens(self, batch: list[Sequence], logits: torch.Tensor) -> None:
        """Sample one token for each sequence from logits [B, V] and deliver it."""
        logits = logits.float().cpu()
        # Log-probabilities as the model gives them, before grammar masks and temperature.
        asked = [i for i, s in enumerate(batch) if s.params.logprobs is not None]
        raw = {i: logits[i].log_softmax(-1) for i in asked}
        failed: dict[int, Exception] = {}
        constrained = [i for i, s in enumerate(batch) if s.constraint is not None]
        if constrained:
            from inference.structured.constraints import allocate_bitmask, apply_masks

            bitmask = allocate_bitmask(len(batch), logits.shape[-1])
            for i in constrained:
                try:
                    batch[i].constraint.fill_mask(bitmask, i)
                except Exception as exc:
                    failed[i] = exc
            apply_masks(logits, bitmask)
        closing = {
            i for i in constrained if batch[i].tokens_left(self.max_seq_len) <= CLOSING_TOKENS
        }
        if closing:
            logits[sorted(closing)] += self.closing_bias
        now = time.perf_counter()
        for i, seq in enumerate(batch):
            if i in failed:
                self.fail(seq, failed[i])
                continue
            try:
                params = replace(seq.params, temperature=0.0) if i in closing else seq.params
                token = sample(logits[i], params, seq.generator)
                self._observe_token(seq, now)
                entry = token_logprob(raw[i], token, seq.params.logprobs) if i in raw else None
                self._deliver(seq, token, entry)
            except Exception as exc:
                self.fail(seq, exc)

    def take_verified(
        self, seq: Sequence, logits: torch.Tensor, draft: list[int], widths: WidthProbe
    ) -> None:
        """Deliver greedy picks from logits [T, V] while they agree with the draft."""
        accepted = 0
        tie = False
        for i in range(len(draft) + 1):
            if seq.drafter is not None and widths.near_tie(logits[i]):
                seq.drafter.hold = tie = True  # rounding could decide it: a plain step will
                break
            self.take_tokens([seq], logits[i : i + 1])
            if seq.status is SeqStatus.FINISHED or i == len(draft):
                break
            if seq.output_ids[-1] != draft[i]:
                break
            accepted += 1
        if draft and seq.drafter is not None:
            seq.drafter.record(len(draft), accepted, tie=tie)
            self.stats.draft_tokens += len(draft)
            self.stats.accepted_draft_tokens += accepted

    @cached_property
    def closing_bias(self) -> torch.Tensor:
        """[vocab] logit bonus of the tokens that end JSON values (`"`, `]`, `}`, `",` ...)."""
        bias = torch.zeros(self.vocab_size)
        for i in range(self.tokenizer.vocab_size):
            text = self.tokenizer.decode([i]).replace(" ", "")
            if text and set(text) <= _CLOSERS | {","}:
                bias[i] = _CLOSING_BIAS["," in text]
        return bias

    def _observe_token(self, seq: Sequence, now: float) -> None:
        if seq.first_token_s is None:
            seq.first_token_s = now
            self.stats.ttft.observe(now - seq.created_s)
        else:
            self.stats.inter_token.observe(now - (seq.last_token_s or now))
        seq.last_token_s = now
        self.stats.generated_tokens += 1

    def _deliver(self, seq: Sequence, token: int, entry: TokenLogprob | None = None) -> None:
        if seq.constraint is not None and token not in self.tokenizer.eos_ids:
            seq.constraint.accept(token)
        if token in self.tokenizer.eos_ids:
            self.finish(seq, "stop")
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
            self.finish(seq, "stop")
            return
        done = seq.constraint is not None and seq.constraint.is_done()
        if done:
            self.finish(seq, "stop")
        elif len(seq.output_ids) >= seq.params.max_tokens or seq.length >= self.max_seq_len:
            self.finish(seq, "length")
        else:
            safe = stop.safe_length(seq.text)
            if safe > seq.emitted:
                text, seq.emitted = seq.text[seq.emitted : safe], safe
                emit(seq, Event(text, *_unreported(seq)))

    # -- the end of a sequence ---------------------------------------------------------

    def finish(self, seq: Sequence, reason: str, *, error: str | None = None) -> None:
        """End `seq` (once): free its slot and send what is left with the finish reason."""
        if seq.status is SeqStatus.FINISHED:
            return
        self.release(seq)
        seq.status = SeqStatus.FINISHED
        rest = seq.text[seq.emitted :] if reason in ("stop", "length") else ""
        seq.emitted = len(seq.text)
        self.stats.finished[reason] = self.stats.finished.get(reason, 0) + 1
        self.stats.e2e.observe(time.perf_counter() - seq.created_s)
        emit(seq, Event(rest, *_unreported(seq), finish_reason=reason, error=error))

    def fail(self, seq: Sequence, exc: Exception) -> None:
        """End one sequence whose own step failed, telling its owner why."""
        log.error("sequence %d failed: %s", seq.id, exc, exc_info=exc)
        self.finish(seq, "error", error=f"request failed in the engine: {exc}")

    def drop_waiting(self, seq: Sequence) -> None:
        """Tell the owner of a sequence cancelled before it held a slot."""
        seq.status = SeqStatus.FINISHED
        self.stats.finished["cancelled"] = self.stats.finished.get("cancelled", 0) + 1
        emit(seq, Event(finish_reason="cancelled"))


def emit(seq: Sequence, event: Event) -> None:
    try:
        seq.emit(event)
    except Exception:  # an owner that is gone (its event loop closed) cannot be told
        log.exception("sequence %d: its owner could not take an event", seq.id)


def _unreported(seq: Sequence) -> tuple[tuple[int, ...], tuple[TokenLogprob, ...]]:
    """The tokens no event has carried yet (text held back for a stop sequence or an
    unfinished character, or the last one), and their logprobs when asked: summed over
    events, every generated token."""
    ids = tuple(seq.output_ids[seq.reported :])
    logprobs = tuple(seq.logprobs[seq.reported :])
    seq.reported = len(seq.output_ids)
    return ids, logprobs

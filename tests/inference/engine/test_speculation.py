"""Prompt-lookup speculative decoding: drafts, the memory bound, the width probe, and the
promise that matters: greedy output is the same with and without speculation."""

from __future__ import annotations

import json
import threading

import pytest
import torch

from inference.config import EngineConfig
from inference.engine.engine import Engine
from inference.engine.sequence import Event, SamplingParams
from inference.engine.speculation import (
    NgramDrafter,
    SpeculationConfig,
    StepCosts,
    WidthProbe,
    probe_widths,
)
from inference.loading.chat_template import render_chat
from inference.loading.loader import default_model_path, load_model
from inference.model.kv_cache import KVCache
from inference.structured.constraints import GrammarCompiler

CONFIG = SpeculationConfig(max_draft=4, max_ngram=3, min_ngram=2)


def test_draft_is_what_followed_the_latest_earlier_occurrence() -> None:
    drafter = NgramDrafter(CONFIG, [5, 6, 7, 8, 9, 1, 6, 7, 2, 3, 4, 6, 7])
    # The suffix (6, 7) occurred at 1 and at 6; the newest earlier one is followed by 2, 3, 4.
    assert drafter.propose(4) == [2, 3, 4, 6]
    assert drafter.propose(2) == [2, 3]


def test_longer_suffix_wins_over_a_newer_shorter_one() -> None:
    drafter = NgramDrafter(CONFIG, [1, 2, 3, 40, 41, 9, 2, 3, 50, 1, 2, 3])
    # (2, 3) last occurred before 50, but (1, 2, 3) occurred before 40: the longer match leads.
    assert drafter.propose(2) == [40, 41]


def test_no_draft_without_a_repeated_ngram() -> None:
    drafter = NgramDrafter(CONFIG, [1, 2, 3, 4, 5])
    assert drafter.propose(4) == []
    drafter.extend([1])  # a lone token is below min_ngram
    assert drafter.propose(4) == []
    drafter.extend([2])
    assert drafter.propose(4) == [3, 4, 5, 1]


def test_draft_length_adapts_to_acceptance() -> None:
    drafter = NgramDrafter(CONFIG, [1, 2, 3, 4, 5, 6, 7, 1, 2])
    drafter.record(proposed=4, accepted=0)
    assert drafter.propose(4) == [3]  # after a miss, one token at a time
    drafter.record(proposed=1, accepted=1)
    assert len(drafter.propose(4)) == 2  # full acceptance grows it again
    assert (drafter.proposed, drafter.accepted) == (5, 1)


def test_acceptance_is_estimated_from_verified_and_skipped_drafts() -> None:
    drafter = NgramDrafter(CONFIG, [1, 2, 3, 4, 1, 2])
    assert drafter.accept_rate == 0.5  # the prior: one kept in two
    drafter.record(proposed=4, accepted=4)
    high = drafter.accept_rate
    assert high > 0.8
    drafter.record(proposed=4, accepted=0)
    assert drafter.accept_rate < high
    # A draft decoded plainly is scored by its first token against the token that comes.
    low = drafter.accept_rate
    drafter.skip(drafter.propose(4))  # [3]: one token at a time after the miss
    drafter.extend([3])
    assert drafter.accept_rate > low
    drafter.skip(drafter.propose(4))
    before = drafter.accept_rate
    drafter.extend([9])  # a miss
    assert drafter.accept_rate < before
    counts = (drafter.kept, drafter.tries)
    drafter.extend([9])  # nothing pending: no observation
    assert (drafter.kept, drafter.tries) == counts


# Step times by width on a 2-core CPU (plain step = 1): verification is dear.
CPU_COSTS = {1: 0.010, 2: 0.013, 3: 0.016, 4: 0.018, 5: 0.021, 6: 0.024, 7: 0.027}


def test_a_draft_is_verified_only_where_it_is_expected_to_pay() -> None:
    probe = WidthProbe(frozenset(range(2, 8)), noise=0.0)
    costs = StepCosts(CPU_COSTS)
    assert probe.plan_draft(6, accept=0.95, costs=costs) == 6  # mostly kept: draft it all
    assert probe.plan_draft(6, accept=0.2, costs=costs) == 0  # mostly missed: decode plainly
    middle = probe.plan_draft(6, accept=0.6, costs=costs)
    assert 1 <= middle < 6  # the tail of a long draft is rarely reached
    assert probe.plan_draft(2, accept=0.95, costs=costs) == 2  # never more than proposed
    # Unmeasured costs count as free: the longest exact width, as without a cost model.
    assert probe.plan_draft(6, accept=0.2, costs=StepCosts()) == 6
    gappy = WidthProbe(frozenset({2, 4}), noise=0.0)
    assert gappy.plan_draft(6, accept=0.99, costs=StepCosts()) == 3  # width 4 is the widest


def test_step_costs_follow_the_measured_times() -> None:
    costs = StepCosts({1: 0.010})
    assert costs.ratio(3) == 1.0  # unmeasured
    costs.observe(3, 0.030)
    assert costs.ratio(3) == pytest.approx(3.0)
    costs.observe(3, 0.020)  # a running mean: moves part of the way
    assert 2.0 < costs.ratio(3) < 3.0


def test_one_slow_step_does_not_price_a_width_out_for_good() -> None:
    probe = WidthProbe(frozenset(range(2, 8)), noise=0.0)
    costs = StepCosts(dict(CPU_COSTS))
    assert probe.plan_draft(1, accept=0.9, costs=costs) == 1
    costs.observe(2, 0.550)  # the core was taken for half a second
    assert costs.ratio(2) < 1.6  # counted as 3x the mean at most
    assert probe.plan_draft(1, accept=0.9, costs=costs) == 1
    # And a refused draft is still verified now and then, to re-time its width.
    assert [costs.explore() for _ in range(64)].count(True) == 2


def test_a_near_tie_is_not_counted_as_a_miss() -> None:
    drafter = NgramDrafter(CONFIG, [1, 2, 3, 4, 1, 2])
    before = drafter.accept_rate
    drafter.record(proposed=4, accepted=2, tie=True)
    assert drafter.accept_rate > before  # two kept, no miss
    assert drafter.draft_len == CONFIG.max_draft  # nor is the draft length cut


def test_memory_bound_shortens_drafts() -> None:
    spec = SpeculationConfig(max_draft=8, memory_mb=1)
    vocab = 49_152  # one position's float32 logits: 192 KiB
    assert spec.draft_budget(rows=1, vocab=vocab) == 4  # 5 positions x 192 KiB <= 1 MiB
    assert spec.draft_budget(rows=4, vocab=vocab) == 0
    assert SpeculationConfig(max_draft=3).draft_budget(rows=1, vocab=vocab) == 3


def test_config_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="max_draft"):
        SpeculationConfig(max_draft=-1)
    with pytest.raises(ValueError, match="min_ngram"):
        SpeculationConfig(min_ngram=4, max_ngram=3)
    with pytest.raises(ValueError, match="draft_tokens"):
        EngineConfig(draft_tokens=-1)


def _fake_forward(noisy_width: int) -> object:
    """A 'model' whose logits depend on token and position, off by 0.5 at one width."""
    table = torch.randn(64, 16, generator=torch.Generator().manual_seed(0))

    def forward(tokens: list[int], start: int) -> torch.Tensor:
        out = torch.stack([table[t] + 0.01 * (start + i) for i, t in enumerate(tokens)])
        return out + (0.5 if len(tokens) == noisy_width else 0.0)

    return forward


def test_probe_keeps_only_widths_that_match_single_steps() -> None:
    probe = probe_widths(_fake_forward(noisy_width=3), [1, 2, 3, 4, 5], 5)  # type: ignore[arg-type]
    assert probe.widths == frozenset({2, 4, 5})
    assert probe.noise == 0.0
    assert probe.usable(4) == 4
    assert probe.usable(2) == 1  # width 3 is out, so a 2-token draft is cut to 1
    assert probe.usable(0) == 0
    assert [w for w, _ in probe.seconds] == [1, 2, 3, 4, 5]  # every width was timed
    assert all(t > 0 for _, t in probe.seconds)


def test_near_ties_are_left_to_a_plain_step() -> None:
    probe = WidthProbe(frozenset({2, 3}), noise=0.25)
    assert probe.near_tie(torch.tensor([1.0, 1.4, -3.0]))
    assert not probe.near_tie(torch.tensor([1.0, 1.6, -3.0]))
    assert not WidthProbe(frozenset({2}), noise=0.0).near_tie(torch.tensor([1.0, 1.0]))


JOBS_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"job_id": {"type": "integer"}, "state": {"enum": ["PENDING", "RUNNING"]}},
        "required": ["job_id", "state"],
        "additionalProperties": False,
    },
    "maxItems": 4,
}
PROMPTS = (
    "List the job ids 1234, 1240, 1301 and 1407 as a JSON array of objects with fields "
    "job_id and state 'PENDING'.",
    "Repeat this sentence three times: the quick brown fox jumps over the lazy dog.",
)


def _greedy_outputs(draft_tokens: int, dtype: str) -> tuple[list[list[int]], Engine]:
    """Greedy token ids for PROMPTS, then PROMPTS[0] held to JOBS_SCHEMA."""
    loaded = load_model(default_model_path())
    engine = Engine(loaded, EngineConfig(max_seq_len=512, dtype=dtype, draft_tokens=draft_tokens))
    engine.start()
    outputs = []
    try:
        tok = engine.tokenizer
        grammar = GrammarCompiler(tok.hf, tok.eos_ids, loaded.args.vocab_size)
        # The first prompt twice: free, then held to a JSON schema (token masks per position).
        for k, text in enumerate((*PROMPTS, PROMPTS[0])):
            constraint = grammar.json_schema(JOBS_SCHEMA) if k == len(PROMPTS) else None
            prompt = render_chat(loaded.chat_template, [{"role": "user", "content": text}])
            done = threading.Event()

            def emit(event: Event, done: threading.Event = done) -> None:
                if event.finish_reason:
                    done.set()

            params = SamplingParams(max_tokens=80, temperature=0.0)
            seq = engine.submit(tok.encode(prompt), params, emit, constraint)
            assert done.wait(120)
            outputs.append(list(seq.output_ids))
    finally:
        engine.stop()
    return outputs, engine


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])  # bfloat16: the default int4 weights
def test_speculation_never_changes_greedy_output(dtype: str) -> None:
    plain, _ = _greedy_outputs(0, dtype)
    speculative, engine = _greedy_outputs(6, dtype)
    assert speculative == plain
    jobs = json.loads(engine.tokenizer.decode(speculative[-1]))  # the schema-held answer
    assert all(job["state"] in ("PENDING", "RUNNING") for job in jobs)
    assert engine.widths.widths  # both verify exactly at some widths on this model
    assert engine.stats.accepted_draft_tokens > 0
    assert engine.stats.draft_tokens >= engine.stats.accepted_draft_tokens
    # The engine timed its own steps: plain steps moved away from the probe's first guess.
    assert engine.costs.seconds[1] != dict(engine.widths.seconds)[1]


@pytest.mark.parametrize("cached", [20, 300, 700])
def test_per_token_verification_reproduces_decoding_bit_for_bit(cached: int) -> None:
    loaded = load_model(default_model_path())
    engine = Engine(loaded, EngineConfig(max_seq_len=1024, draft_tokens=0))  # int4 on bf16
    model = engine.model
    try:
        prompt = [(i * 37) % 5000 + 100 for i in range(cached)]
        draft = [2000, 17, 4242, 9, 311]
        with torch.inference_mode():
            cache = KVCache(model.args, 1, 1024, dtype=model.dtype)
            model(torch.tensor([prompt]), torch.tensor([0]), cache)
            wide = model(
                torch.tensor([draft]),
                torch.tensor([cached]),
                cache,
                last_only=False,
                per_token=True,
            )[0]
            wide_k = cache.k[:, 0, :, cached : cached + len(draft)].clone()
            singles = torch.stack(
                [
                    model(torch.tensor([[t]]), torch.tensor([cached + i]), cache)[0]
                    for i, t in enumerate(draft)
                ]
            )
            single_k = cache.k[:, 0, :, cached : cached + len(draft)]
    finally:
        engine.stop()
    assert torch.equal(wide, singles)  # logits
    assert torch.equal(wide_k, single_k)  # and the keys left in the cache

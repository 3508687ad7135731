"""Prompt-lookup speculative decoding: one-sequence decode speed with and without it.

Builds the engine on the embedded SmolLM2-135M model twice in one run (`--draft-tokens 0`,
then the default), decodes the same prompts greedily (an agent-style answer that copies job
ids from its prompt, a repetition, free text), and prints tok/s, the ratio, how many draft
tokens were kept, and whether the outputs are identical token for token.

`--cost-ab N` then builds one more engine and alternates, N rounds, drafts weighed by their
cost (the default) with verifying every draft found, on the same prompts (each prompt run once
before, so every timed run finds it in the prefix cache).

    python bench/speculation.py [--dtype bfloat16|float32] [--weights auto|dense|int4|int8]
    python bench/speculation.py --cost-ab 4
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file sits beside bench/inference.py, named like the package: keep bench/ off the path.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import os
import platform
import statistics
import threading
import time

from inference.config import EngineConfig
from inference.engine.engine import Engine
from inference.engine.sequence import Event, SamplingParams
from inference.engine.speculation import StepCosts
from inference.loading.chat_template import render_chat
from inference.loading.loader import default_model_path, load_model

NEW_TOKENS = 160
PROMPTS = {
    "agent JSON": (
        "Pending jobs: 1234 (physics, 4 nodes, 6 h), 1240 (chemistry, 1 node, 20 min), 1301 "
        "(physics, 2 nodes, 1 h), 1407 (biology, 8 nodes, 12 h). Answer with a JSON array of "
        'objects {"job_id": ..., "account": ..., "nodes": ...} for every pending job.'
    ),
    "repetition": "Repeat this sentence three times: the quick brown fox jumps over the lazy dog.",
    "free text": (
        "The queue uses FCFS with EASY backfilling. Job 1234 asks for 4 nodes for 6 hours; job "
        "1240 asks for 1 node for 20 minutes. Explain which is likely to start first and why."
    ),
}


def _prompt_ids(engine: Engine, text: str) -> list[int]:
    prompt = render_chat(engine.loaded.chat_template, [{"role": "user", "content": text}])
    return engine.tokenizer.encode(prompt)


def _run(engine: Engine, ids: list[int]) -> tuple[list[int], float, int, int]:
    """Decode one prompt greedily: output ids, tok/s after the first token, drafted, kept."""
    before = (engine.stats.draft_tokens, engine.stats.accepted_draft_tokens)
    done = threading.Event()
    first: list[float] = []

    def emit(event: Event) -> None:
        if event.token_ids and not first:
            first.append(time.perf_counter())
        if event.finish_reason:
            done.set()

    seq = engine.submit(ids, SamplingParams(max_tokens=NEW_TOKENS, temperature=0.0), emit)
    done.wait()
    elapsed = time.perf_counter() - first[0]
    drafted = engine.stats.draft_tokens - before[0]
    kept = engine.stats.accepted_draft_tokens - before[1]
    return list(seq.output_ids), (len(seq.output_ids) - 1) / elapsed, drafted, kept


def _engine(draft_tokens: int, dtype: str, weights: str) -> Engine:
    config = EngineConfig(max_seq_len=1024, dtype=dtype, weights=weights, draft_tokens=draft_tokens)
    engine = Engine(load_model(default_model_path()), config)
    engine.start()
    return engine


def decode(draft_tokens: int, dtype: str, weights: str) -> tuple[dict[str, tuple], Engine]:
    engine = _engine(draft_tokens, dtype, weights)
    try:
        results = {name: _run(engine, _prompt_ids(engine, text)) for name, text in PROMPTS.items()}
    finally:
        engine.stop()
    return results, engine


class _FreeSteps(StepCosts):
    """The baseline of the cost A/B: every width counts as costing a plain step, so every
    draft found is verified (the engine before drafts were weighed by their cost)."""

    def ratio(self, width: int) -> float:
        return 1.0


def cost_ab(rounds: int, draft_tokens: int, dtype: str, weights: str) -> None:
    """One engine, alternating drafts weighed by cost with drafting whenever a draft exists."""
    engine = _engine(draft_tokens, dtype, weights)
    rates: dict[tuple[str, str], list[float]] = {}
    outputs: dict[str, set[tuple[int, ...]]] = {}
    try:
        ids = {name: _prompt_ids(engine, text) for name, text in PROMPTS.items()}
        for name in PROMPTS:  # a first run fills the prefix cache, as every later run finds it
            _run(engine, ids[name])
        weighed = engine.costs
        for r in range(rounds):
            for mode in ("weighed", "always") if r % 2 == 0 else ("always", "weighed"):
                engine.costs = weighed if mode == "weighed" else _FreeSteps(weighed.seconds)
                for name in PROMPTS:
                    out, rate, _, _ = _run(engine, ids[name])
                    rates.setdefault((name, mode), []).append(rate)
                    outputs.setdefault(name, set()).add(tuple(out))
        engine.costs = weighed
        seconds = ", ".join(f"{w}: {t * 1000:.1f}" for w, t in sorted(weighed.seconds.items()))
    finally:
        engine.stop()
    print(f"cost A/B, {rounds} alternating rounds; step ms by width: {seconds}")
    print(f"{'prompt':<12} {'weighed tok/s':>13} {'always tok/s':>12} {'ratio':>6} same")
    for name in PROMPTS:
        w = statistics.median(rates[(name, "weighed")])
        a = statistics.median(rates[(name, "always")])
        same = "yes" if len(outputs[name]) == 1 else "NO"
        print(f"{name:<12} {w:>13.1f} {a:>12.1f} {w / a:>5.2f}x {same}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    parser.add_argument("--weights", default="auto", choices=["auto", "dense", "int4", "int8"])
    parser.add_argument("--draft-tokens", type=int, default=EngineConfig().draft_tokens)
    parser.add_argument(
        "--cost-ab", type=int, default=0, metavar="ROUNDS",
        help="also compare drafts weighed by cost with always drafting, in one engine",
    )  # fmt: skip
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}; {os.cpu_count()} cores")
    plain, _ = decode(0, args.dtype, args.weights)
    spec, engine = decode(args.draft_tokens, args.dtype, args.weights)
    print(
        f"engine ({args.dtype}, {engine.weights} weights), greedy, up to {NEW_TOKENS} tokens; "
        f"exact verification widths {sorted(engine.widths.widths)}, "
        f"near-tie margin {2 * engine.widths.noise:g}"
    )
    print(f"{'prompt':<12} {'plain tok/s':>11} {'spec tok/s':>10} {'ratio':>6} {'kept':>9} same")
    for name in PROMPTS:
        ids0, rate0, _, _ = plain[name]
        ids1, rate1, drafted, kept = spec[name]
        print(
            f"{name:<12} {rate0:>11.1f} {rate1:>10.1f} {rate1 / rate0:>5.2f}x "
            f"{kept:>4}/{drafted:<4} {'yes' if ids0 == ids1 else 'NO'}"
        )
    if args.cost_ab:
        cost_ab(args.cost_ab, args.draft_tokens, args.dtype, args.weights)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

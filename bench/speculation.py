"""Prompt-lookup speculative decoding: one-sequence decode speed with and without it.

Builds the engine on the embedded SmolLM2-135M model twice in one run (`--draft-tokens 0`,
then the default), decodes the same prompts greedily (an agent-style answer that copies job
ids from its prompt, a repetition, free text), and prints tok/s, the ratio, how many draft
tokens were kept, and whether the outputs are identical token for token.

    python bench/speculation.py [--dtype bfloat16|float32] [--weights auto|dense|int4|int8]
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
import threading
import time

from inference.chat_template import render_chat
from inference.config import EngineConfig
from inference.engine import Engine
from inference.loading import default_model_path, load_model
from inference.sequence import Event, SamplingParams

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


def decode(draft_tokens: int, dtype: str, weights: str) -> tuple[dict[str, tuple], Engine]:
    loaded = load_model(default_model_path())
    engine = Engine(
        loaded,
        EngineConfig(max_seq_len=1024, dtype=dtype, weights=weights, draft_tokens=draft_tokens),
    )
    engine.start()
    results: dict[str, tuple] = {}
    try:
        for name, text in PROMPTS.items():
            prompt = render_chat(loaded.chat_template, [{"role": "user", "content": text}])
            ids = engine.tokenizer.encode(prompt)
            before = (engine.stats.draft_tokens, engine.stats.accepted_draft_tokens)
            done = threading.Event()
            first: list[float] = []

            def emit(
                event: Event, done: threading.Event = done, first: list[float] = first
            ) -> None:
                if event.token_ids and not first:
                    first.append(time.perf_counter())
                if event.finish_reason:
                    done.set()

            seq = engine.submit(ids, SamplingParams(max_tokens=NEW_TOKENS, temperature=0.0), emit)
            done.wait()
            elapsed = time.perf_counter() - first[0]
            n = len(seq.output_ids)
            drafted = engine.stats.draft_tokens - before[0]
            kept = engine.stats.accepted_draft_tokens - before[1]
            results[name] = (list(seq.output_ids), (n - 1) / elapsed, drafted, kept)
    finally:
        engine.stop()
    return results, engine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    parser.add_argument("--weights", default="auto", choices=["auto", "dense", "int4", "int8"])
    parser.add_argument("--draft-tokens", type=int, default=EngineConfig().draft_tokens)
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

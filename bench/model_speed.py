"""Model speed on this machine: prefill and batched-decode tokens/s, fp32 vs bf16, by threads.

    .venv/bin/python bench/model_speed.py [--model PATH] [--random] [--steps 32]

Weights come from `inference.loading` (the embedded SmolLM2-135M GGUF by default); `--random`
uses random weights of the same shape, which run exactly as fast.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import torch

# Run as a script, bench/ comes first on sys.path and bench/inference.py would shadow the
# `inference` package: look in the repository root instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from inference.config import ModelArgs  # noqa: E402
from inference.kv_cache import KVCache  # noqa: E402
from inference.linears import can_pack  # noqa: E402
from inference.model import Transformer, expected_shapes  # noqa: E402

PROMPT_LEN = 200
BATCHES = (1, 8, 32)
# SmolLM2-135M-Instruct, the default model, for --random.
SMOLLM2 = ModelArgs(
    arch="llama",
    vocab_size=49152,
    dim=576,
    n_layers=30,
    n_heads=9,
    n_kv_heads=3,
    hidden_dim=1536,
    head_dim=64,
    norm_eps=1e-5,
    rope_theta=100000.0,
    max_seq_len=8192,
    tie_embeddings=True,
)


def load_weights(path: str | None, random: bool) -> tuple[ModelArgs, dict[str, torch.Tensor]]:
    if random:
        shapes = expected_shapes(SMOLLM2)
        return SMOLLM2, {name: torch.randn(shape) * 0.02 for name, shape in shapes.items()}
    from inference.loading import default_model_path, load_model

    loaded = load_model(path or default_model_path())
    return loaded.args, loaded.state_dict


def seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of `repeats` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def prefill_tok_s(model: Transformer, cache: KVCache) -> float:
    tokens = torch.randint(0, model.args.vocab_size, (1, PROMPT_LEN))
    start = torch.zeros(1, dtype=torch.long)
    return PROMPT_LEN / seconds(lambda: model(tokens, start, cache), repeats=3)


def decode_tok_s(model: Transformer, cache: KVCache, batch: int, steps: int) -> float:
    """B sequences that already hold PROMPT_LEN + a few tokens each, `steps` decode steps."""
    lengths = torch.tensor([PROMPT_LEN + i % 7 for i in range(batch)])  # ragged: needs a mask

    def run() -> None:
        tokens = torch.zeros(batch, 1, dtype=torch.long)
        for step in range(steps):
            logits = model(tokens, lengths + step, cache)
            tokens = logits.argmax(dim=-1, keepdim=True)

    return batch * steps / seconds(run, repeats=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="GGUF file or HF directory (default: embedded SmolLM2)")
    parser.add_argument("--random", action="store_true", help="random weights, same shapes")
    parser.add_argument("--steps", type=int, default=32, help="decode steps per measurement")
    opts = parser.parse_args()
    args, state_dict = load_weights(opts.model, opts.random)
    default_threads = torch.get_num_threads()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"model: {args.n_layers} layers, dim {args.dim}, vocab {args.vocab_size}")
    print(f"{'weights':9} {'threads':>7} {'prefill':>9} " + " ".join(f"B={b:<6}" for b in BATCHES))
    variants: list[tuple[str, torch.dtype, Literal["int4"] | None]] = [
        ("float32", torch.float32, None),
        ("bfloat16", torch.bfloat16, None),
    ]
    if can_pack(torch.bfloat16, torch.device("cpu")):
        variants.append(("int4", torch.bfloat16, "int4"))
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        for name, dtype, quantize in variants:
            model = Transformer.from_state_dict(args, state_dict, dtype=dtype, quantize=quantize)
            cache = KVCache(args, max(BATCHES), PROMPT_LEN + opts.steps + 8, dtype=dtype)
            prefill = prefill_tok_s(model, cache)
            decode = [decode_tok_s(model, cache, b, opts.steps) for b in BATCHES]
            row = " ".join(f"{d:<8.1f}" for d in decode)
            print(f"{name:9} {threads:>7} {prefill:>9.0f} {row}", flush=True)
    print(
        "tokens/s; prefill: one 200-token prompt; B=n: n sequences decoding at ~200 tokens; "
        "int4: bf16 with int4 block weights (quantize='int4')"
    )


if __name__ == "__main__":
    main()

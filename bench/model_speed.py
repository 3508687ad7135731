"""Model speed on this machine: prefill and batched-decode tokens/s, fp32 vs bf16, by threads.

    .venv/bin/python bench/model_speed.py [--model PATH] [--random] [--steps 32] [--layouts]
        [--fused ROUNDS]

Weights come from `inference.loading.loader` (the embedded SmolLM2-135M GGUF by default); `--random`
uses random weights of the same shape, which run exactly as fast. `--layouts` first times one
block's matmuls by row count for each weight layout (int4, int8, bf16 packed: where the dense
copies pay) and bf16 RMSNorm against LayerNorm over [x, -x]. `--fused N` first times decode
steps (int4 + copies) in N alternating rounds through the compiled C++ blocks
(inference/fused/) and through Python: one sequence at 200 and 1,000 cached tokens, and
batches of 4, 8 and 32 at ~200.
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

from inference import fused  # noqa: E402
from inference.config import ModelArgs  # noqa: E402
from inference.loading.loader import DEFAULT_ARGS  # noqa: E402
from inference.loading.weights import random_weights  # noqa: E402
from inference.model.kv_cache import KVCache  # noqa: E402
from inference.model.linears import Int4Linear, Int8Linear, PackedLinear, can_pack  # noqa: E402
from inference.model.transformer import Transformer  # noqa: E402

PROMPT_LEN = 200
BATCHES = (1, 8, 32)


def load_weights(path: str | None, random: bool) -> tuple[ModelArgs, dict[str, torch.Tensor]]:
    if random:
        return DEFAULT_ARGS, random_weights(DEFAULT_ARGS, scale=0.02)
    from inference.loading.loader import default_model_path, load_model

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


LAYOUT_ROWS = (1, 4, 7, 8, 16, 32, 256)


def layouts(args: ModelArgs) -> None:
    """ms for one block's four matmuls by rows, per layout (weights hot in cache: the model
    rows below, with 30 blocks' weights streamed, are the test), and the two bf16 norms."""
    q_size, kv_size = args.n_heads * args.head_dim, args.n_kv_heads * args.head_dim
    shapes = [
        (q_size + 2 * kv_size, args.dim),
        (args.dim, q_size),
        (2 * args.hidden_dim, args.dim),
        (args.dim, args.hidden_dim),
    ]
    weights = [torch.randn(shape) * 0.02 for shape in shapes]
    kinds = {
        "int4": [Int4Linear(w, None) for w in weights],
        "int8": [Int8Linear(w, None) for w in weights],
        "bf16": [PackedLinear(w.bfloat16(), None) for w in weights],
    }
    print("one block's matmuls, ms by rows: " + " ".join(f"{r:>6}" for r in LAYOUT_ROWS))
    for name, layers in kinds.items():
        cells = []
        for rows in LAYOUT_ROWS:
            xs = [torch.randn(rows, w.shape[1]).bfloat16() for w in weights]
            pairs = list(zip(layers, xs, strict=True))
            cells.append(seconds(lambda p=pairs: [f(x) for f, x in p], repeats=20) * 1e3)
        print(f"  {name:31}" + " ".join(f"{c:6.3f}" for c in cells))
    x, weight = torch.randn(1, 1, args.dim).bfloat16(), torch.randn(args.dim).bfloat16()
    doubled = torch.cat((weight, weight))
    norms = {
        "rms_norm": lambda: torch.nn.functional.rms_norm(x, (args.dim,), weight, 1e-5),
        "layer_norm([x, -x])": lambda: torch.nn.functional.layer_norm(
            torch.cat((x, -x), -1), (2 * args.dim,), doubled, None, 1e-5
        ),
    }
    for name, fn in norms.items():
        print(f"  bf16 {name:20} {seconds(fn, repeats=2000) * 1e6:6.1f} us per call (one row)")


def fused_ab(args: ModelArgs, state_dict: dict[str, torch.Tensor], rounds: int, steps: int) -> None:
    """Alternating rounds of one-sequence decode, C++ blocks vs Python, same model and cache."""
    model = Transformer.from_state_dict(args, state_dict, quantize="int4", dense_copies=True)
    if not fused.attach(model, fused.build()):
        print("fused decode: differs from the Python path on this build; not timed")
        return
    blocks = model.fused
    for batch, cached in (
        (1, PROMPT_LEN),
        (1, 1000),
        (4, PROMPT_LEN),
        (8, PROMPT_LEN),
        (32, PROMPT_LEN),
    ):
        cache = KVCache(args, batch, cached + steps + 8)
        with torch.inference_mode():
            for slot in range(batch):
                prompt = torch.randint(0, args.vocab_size, (1, cached - slot))  # ragged
                model(prompt, torch.tensor([0]), cache, slot)
        lengths = torch.tensor([cached - slot for slot in range(batch)])

        def run() -> None:
            token = torch.zeros(batch, 1, dtype=torch.long)  # noqa: B023
            for i in range(steps):
                logits = model(token, lengths + i, cache)  # noqa: B023
                token = logits.argmax(dim=-1, keepdim=True)

        times: dict[str, list[float]] = {"python": [], "fused": []}
        for _ in range(rounds):
            for name, using in (("python", None), ("fused", blocks)):
                model.fused = using
                times[name].append(seconds(run, repeats=1) / steps * 1000)
        ratios = sorted(p / f for p, f in zip(times["python"], times["fused"], strict=True))
        print(
            f"B={batch} at ~{cached} cached tokens, {rounds} rounds of {steps} steps: "
            f"python {statistics.median(times['python']):.2f} ms/step, fused "
            f"{statistics.median(times['fused']):.2f} ms/step; per-round speed-up median "
            f"x{statistics.median(ratios):.2f} (x{ratios[0]:.2f}-x{ratios[-1]:.2f})",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="GGUF file or HF directory (default: embedded SmolLM2)")
    parser.add_argument("--random", action="store_true", help="random weights, same shapes")
    parser.add_argument("--steps", type=int, default=32, help="decode steps per measurement")
    parser.add_argument("--layouts", action="store_true", help="time layers by rows first")
    parser.add_argument(
        "--fused", type=int, default=0, metavar="ROUNDS", help="C++ blocks vs Python first"
    )
    opts = parser.parse_args()
    args, state_dict = load_weights(opts.model, opts.random)
    default_threads = torch.get_num_threads()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"model: {args.n_layers} layers, dim {args.dim}, vocab {args.vocab_size}")
    if opts.layouts and can_pack(torch.bfloat16, torch.device("cpu")):
        layouts(args)
    if opts.fused and can_pack(torch.bfloat16, torch.device("cpu")):
        fused_ab(args, state_dict, opts.fused, opts.steps)
    print(f"{'weights':9} {'threads':>7} {'prefill':>9} " + " ".join(f"B={b:<6}" for b in BATCHES))
    variants: list[tuple[str, torch.dtype, Literal["int4", "int8"] | None, bool]] = [
        ("float32", torch.float32, None, False),
        ("bfloat16", torch.bfloat16, None, False),
    ]
    if can_pack(torch.bfloat16, torch.device("cpu")):
        for quantize in ("int4", "int8"):
            variants.append((quantize, torch.bfloat16, quantize, False))
            variants.append((f"{quantize}+copy", torch.bfloat16, quantize, True))
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        for name, dtype, quantize, copies in variants:
            model = Transformer.from_state_dict(
                args, state_dict, dtype=dtype, quantize=quantize, dense_copies=copies
            )
            cache = KVCache(args, max(BATCHES), PROMPT_LEN + opts.steps + 8, dtype=dtype)
            prefill = prefill_tok_s(model, cache)
            decode = [decode_tok_s(model, cache, b, opts.steps) for b in BATCHES]
            row = " ".join(f"{d:<8.1f}" for d in decode)
            print(f"{name:9} {threads:>7} {prefill:>9.0f} {row}", flush=True)
    print(
        "tokens/s; prefill: one 200-token prompt; B=n: n sequences decoding at ~200 tokens; "
        "int4/int8: bf16 with quantized block weights; +copy: with their bf16 dense copies "
        "for 8+ rows"
    )


if __name__ == "__main__":
    main()

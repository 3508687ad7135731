"""LLM serving benchmark through the HTTP server, with llama.cpp and transformers as peers.

Starts `schedsight serve-llm` in a subprocess on the embedded SmolLM2-135M model and measures,
over the OpenAI API: prefill tok/s, one-sequence decode tok/s, total tok/s with 8 and 32
concurrent requests, time to first token p50/p95, and the server's peak RSS. Then, when they
are installed, the same prompts on llama-cpp-python (Q4_1, in process) and transformers
(dequantized GGUF, bf16), printed as ratios; llama.cpp also decodes 8 and 32 sequences in one
batch through its multi-sequence API, as llama-server's parallel slots do. Greedy decoding,
128 new tokens. One-sequence decode is also measured in `--pairs` alternating runs, ours and
llama.cpp's back to back while our server is up, so each pair sees the same load on a
shared machine: the median of the per-pair ratios is the steadier figure.

    python bench/inference.py [--dtype bfloat16|float32] [--weights auto|dense|int4|int8]
        [--draft-tokens N] [--no-dense-copies] [--no-fused] [--skip-peers] [--pairs N]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the `inference` package it measures: keep its folder off the path.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import functools
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import openai
import torch

NEW_TOKENS = 128
BATCH = 2048  # tokens per llama_decode call in the llama.cpp multi-sequence peer
SYSTEM = (
    "You are the scheduling assistant of an HPC centre. You answer questions about the Slurm "
    "queue, job priorities, fair-share, backfilling and expected start times. Be precise, cite "
    "numbers from the context, and say when you are unsure. "
)
QUESTION = (
    "The cluster has 8 nodes with 16 cores and 4 GPUs each. Job 1234 asks for 4 nodes for 6 "
    "hours and has waited 3 hours; job 1240 asks for 1 node for 20 minutes. The queue uses "
    "FCFS with EASY backfilling. Explain which job is likely to start first and why, and what "
    "the user of job 1234 could change to start sooner."
)


def messages(tag: str, repeat: int = 1) -> list[dict[str, str]]:
    # A unique tag first, so the prefix cache cannot serve one request from another.
    return [
        {"role": "system", "content": f"[run {tag}] " + SYSTEM * repeat},
        {"role": "user", "content": QUESTION},
    ]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def one_stream(
    client: openai.AsyncOpenAI, model: str, msgs: list[dict[str, str]]
) -> dict[str, float]:
    t0 = time.perf_counter()
    first = last = None
    tokens = 0
    stream = await client.chat.completions.create(
        model=model,
        messages=msgs,
        max_tokens=NEW_TOKENS,
        temperature=0,
        stream=True,  # type: ignore[arg-type]
        stream_options={"include_usage": True},
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            now = time.perf_counter()
            first = first or now
            last = now
        if chunk.usage is not None:
            # Tokens from the usage: a chunk may carry several (a verified draft's tokens
            # go out together), so counting chunks would undercount.
            tokens = chunk.usage.completion_tokens
    assert first is not None and last is not None and tokens > 0
    return {"ttft": first - t0, "tokens": tokens, "decode_s": last - first, "total_s": last - t0}


def decode_rate(run: dict[str, float]) -> float:
    """Decode tok/s of one `one_stream` run: the tokens after the first, over their time."""
    return (run["tokens"] - 1) / run["decode_s"]


async def concurrent(base: str, model: str, n: int) -> dict[str, float]:
    client = openai.AsyncOpenAI(base_url=base, api_key="x", max_retries=0, timeout=600)
    t0 = time.perf_counter()
    results = await asyncio.gather(
        *(one_stream(client, model, messages(uuid.uuid4().hex[:8])) for _ in range(n))
    )
    wall = time.perf_counter() - t0
    await client.close()
    return {
        "tok_s": sum(r["tokens"] for r in results) / wall,
        "ttfts": [r["ttft"] for r in results],  # type: ignore[dict-item]
    }


async def measure_server(base: str) -> dict[str, object]:
    client = openai.AsyncOpenAI(base_url=base, api_key="x", max_retries=0, timeout=600)
    model = (await client.models.list()).data[0].id
    await one_stream(client, model, messages("warmup"))
    # Prefill: a long prompt, one new token.
    t0 = time.perf_counter()
    out = await client.chat.completions.create(
        model=model,
        messages=messages(uuid.uuid4().hex[:8], repeat=6),
        max_tokens=1,
        temperature=0,  # type: ignore[arg-type]
    )
    prefill_s = time.perf_counter() - t0
    assert out.usage is not None
    prefill = out.usage.prompt_tokens / prefill_s
    singles = [await one_stream(client, model, messages(uuid.uuid4().hex[:8])) for _ in range(3)]
    decode = statistics.median(decode_rate(s) for s in singles)
    await client.close()
    c8 = await concurrent(base, model, 8)
    c32 = await concurrent(base, model, 32)
    ttfts = sorted([s["ttft"] for s in singles] + c8["ttfts"] + c32["ttfts"])  # type: ignore[operator]
    return {
        "prompt_tokens": out.usage.prompt_tokens,
        "prefill": prefill,
        "decode1": decode,
        "total8": c8["tok_s"],
        "total32": c32["tok_s"],
        "ttft_p50": ttfts[len(ttfts) // 2],
        "ttft_p95": ttfts[min(int(0.95 * len(ttfts)), len(ttfts) - 1)],
    }


def run_server(
    dtype: str,
    weights: str,
    draft_tokens: int | None,
    dense_copies: bool,
    pairs: tuple[str, int] | None = None,
    *,
    fused: bool = True,
) -> dict[str, object]:
    """Start `serve-llm`, measure it; with `pairs` (the GGUF's path, how many), also the
    alternating one-sequence decode pairs against llama.cpp while the server is up."""
    port = 18000 + os.getpid() % 1000
    command = ["serve-llm", "--port", str(port), "--dtype", dtype, "--weights", weights]
    if not dense_copies:
        command.append("--no-dense-copies")
    if not fused:
        command.append("--no-fused")
    if draft_tokens is not None:
        command += ["--draft-tokens", str(draft_tokens)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "schedsight", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        figures = asyncio.run(measure_server(f"{base}/v1"))
        health = httpx.get(f"{base}/health", timeout=5).json()
        figures["weights"] = health.get("weights", "?")
        figures["fused"] = health.get("fused_decode", False)
        figures["peak_rss_mb"] = peak_rss_mb(proc.pid)
        if pairs is not None:
            figures["pairs"] = paired_decode(f"{base}/v1", *pairs)
        return figures
    finally:
        proc.terminate()
        proc.wait(30)


@functools.cache
def load_llama(model_path: str) -> Any:
    """llama-cpp-python's `Llama` on the same GGUF and cores as our server; None without it.
    Loaded once: the decode pairs and the peer measurements share it."""
    try:
        from llama_cpp import Llama
    except ImportError:
        return None
    threads = torch.get_num_threads()  # the same cores as our server, not its default of half
    llm = Llama(
        model_path=model_path,
        n_ctx=4096,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
        seed=0,
    )
    llm.create_chat_completion(messages=messages("warmup"), max_tokens=8, temperature=0)
    return llm


def llama_decode(llm: Any, tag: str) -> float:
    """llama.cpp's one-sequence decode tok/s, first to last streamed token."""
    first = last = None
    n = 0
    for chunk in llm.create_chat_completion(
        messages=messages(tag), max_tokens=NEW_TOKENS, temperature=0, stream=True
    ):
        if chunk["choices"][0]["delta"].get("content"):
            now = time.perf_counter()
            first = first or now
            last = now
            n += 1  # llama-cpp-python streams one chunk per token
    assert first is not None and last is not None
    return (n - 1) / (last - first)


def llama_cpp_peer(model_path: str) -> dict[str, float] | None:
    llm = load_llama(model_path)
    if llm is None:
        return None
    t0 = time.perf_counter()
    out = llm.create_chat_completion(messages=messages("p", repeat=6), max_tokens=1, temperature=0)
    prefill = out["usage"]["prompt_tokens"] / (time.perf_counter() - t0)
    rates = [llama_decode(llm, f"d{k}") for k in range(3)]
    figures = {"prefill": prefill, "decode1": statistics.median(rates)}
    for streams in (8, 32):
        figures[f"total{streams}"] = llama_cpp_streams(llm, streams)
    return figures


def paired_decode(base: str, model_path: str, pairs: int) -> list[tuple[float, float]]:
    """One-sequence decode tok/s of ours and llama.cpp's, alternating, `pairs` times (who
    goes first alternates too): on a shared, noisy machine each pair sees the same load."""
    llm = load_llama(model_path)
    if llm is None:
        return []

    async def ours(tag: str) -> float:
        client = openai.AsyncOpenAI(base_url=base, api_key="x", max_retries=0, timeout=600)
        model = (await client.models.list()).data[0].id
        run = await one_stream(client, model, messages(tag))
        await client.close()
        return decode_rate(run)

    results = []
    for k in range(pairs):
        tag = f"pair{k}-{uuid.uuid4().hex[:8]}"
        if k % 2:
            theirs = llama_decode(llm, tag)
            mine = asyncio.run(ours(tag))
        else:
            mine = asyncio.run(ours(tag))
            theirs = llama_decode(llm, tag)
        results.append((mine, theirs))
    return results


def llama_cpp_streams(llm: Any, n: int) -> float:
    """Total tok/s of llama.cpp decoding n sequences together (its multi-sequence batch API,
    as llama-server's parallel slots run them): every prompt prefilled, then one batched
    decode step per token, greedy, until each sequence ends or has NEW_TOKENS. `llm` is a
    loaded `llama_cpp.Llama`; the sequences get a context of their own on its model."""
    import llama_cpp
    import numpy as np

    from inference.loading.chat_template import render_chat

    threads = torch.get_num_threads()
    params = type(llm.context_params).from_buffer_copy(llm.context_params)  # llm's stay as is
    params.n_seq_max, params.n_ctx, params.n_batch, params.n_ubatch = n, n * 512, BATCH, 512
    ctx = llama_cpp.llama_init_from_model(llm.model, params)
    llama_cpp.llama_set_n_threads(ctx, threads, threads)
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    template = llm.metadata.get("tokenizer.chat_template")
    prompts = [
        llm.tokenize(render_chat(template, messages(f"s{i}")).encode(), add_bos=False, special=True)
        for i in range(n)
    ]
    batch = llama_cpp.llama_batch_init(BATCH, 0, 1)

    def run(entries: list[tuple[int, int, int, bool]]) -> dict[int, int]:
        """Decode (token, position, sequence, wants logits) entries, BATCH per call; the
        greedy next token of each sequence that wanted logits."""
        picks = {}
        for lo in range(0, len(entries), BATCH):
            part = entries[lo : lo + BATCH]
            batch.n_tokens = len(part)
            for i, (token, pos, seq, out) in enumerate(part):
                batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, pos, 1
                batch.seq_id[i][0], batch.logits[i] = seq, out
            if llama_cpp.llama_decode(ctx, batch) != 0:
                raise RuntimeError("llama_decode failed")
            for i, (_, _, seq, out) in enumerate(part):
                if out:
                    row = llama_cpp.llama_get_logits_ith(ctx, i)
                    picks[seq] = int(np.ctypeslib.as_array(row, shape=(n_vocab,)).argmax())
        return picks

    t0 = time.perf_counter()
    nxt = run(
        [(t, p, s, p == len(ids) - 1) for s, ids in enumerate(prompts) for p, t in enumerate(ids)]
    )
    lengths = [len(ids) for ids in prompts]
    live, generated = list(range(n)), 0
    for step in range(NEW_TOKENS):
        live = [s for s in live if not llama_cpp.llama_vocab_is_eog(vocab, nxt[s])]
        generated += len(live)
        if not live or step == NEW_TOKENS - 1:
            break
        nxt.update(run([(nxt[s], lengths[s], s, True) for s in live]))
        for s in live:
            lengths[s] += 1
    wall = time.perf_counter() - t0
    llama_cpp.llama_batch_free(batch)
    llama_cpp.llama_free(ctx)
    return generated / wall


def transformers_peer(model_path: str) -> dict[str, float] | None:
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError:
        return None
    folder, name = os.path.split(model_path)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.bfloat16)
    ids = tok.apply_chat_template(messages("t"), add_generation_prompt=True, return_tensors="pt")
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    with torch.inference_mode():
        model.generate(ids, max_new_tokens=4, do_sample=False)
        t0 = time.perf_counter()
        model(ids)
        prefill = ids.shape[1] / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        out = model.generate(
            ids, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False
        )
        decode = (out.shape[1] - ids.shape[1]) / (time.perf_counter() - t0)
    return {"prefill": prefill, "decode1": decode}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    parser.add_argument("--weights", default="auto", choices=["auto", "dense", "int4", "int8"])
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument(
        "--pairs",
        type=int,
        default=8,
        help="alternating one-sequence decode runs, ours then llama.cpp's (0: none)",
    )
    parser.add_argument(
        "--draft-tokens", type=int, help="speculative draft tokens (0: off; default: the server's)"
    )
    parser.add_argument(
        "--no-dense-copies",
        dest="dense_copies",
        action="store_false",
        help="serve int4/int8 weights without their bf16 copies for prefill and batches",
    )
    parser.add_argument(
        "--no-fused",
        dest="fused",
        action="store_false",
        help="run decode steps in Python, not through the compiled C++ blocks",
    )
    args = parser.parse_args()
    from inference.loading.loader import default_model_path

    model_path = str(default_model_path())
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    cpu = names[0] if names else platform.machine()
    print(f"machine: {cpu}; {os.cpu_count()} cores; Python {platform.python_version()}")
    pairs = None if args.skip_peers or args.pairs <= 0 else (model_path, args.pairs)
    ours = run_server(
        args.dtype, args.weights, args.draft_tokens, args.dense_copies, pairs, fused=args.fused
    )
    print(
        f"schedsight serve-llm ({args.dtype}, --weights {args.weights} -> {ours['weights']}, "
        f"--draft-tokens {args.draft_tokens if args.draft_tokens is not None else 6}"
        f"{'' if args.dense_copies else ', --no-dense-copies'}; "
        f"fused decode {'on' if ours['fused'] else 'off'}; "
        f"{torch.get_num_threads()} "
        f"threads), through HTTP, {NEW_TOKENS} new tokens, greedy:"
    )
    prompt = ours["prompt_tokens"]
    print(f"  prefill            {ours['prefill']:8.0f} tok/s  ({prompt} prompt tokens)")
    print(f"  decode, 1 sequence {ours['decode1']:8.1f} tok/s")
    print(f"  total, 8 requests  {ours['total8']:8.1f} tok/s")
    print(f"  total, 32 requests {ours['total32']:8.1f} tok/s")
    print(f"  TTFT p50 / p95     {ours['ttft_p50']:8.3f} s / {ours['ttft_p95']:.3f} s")
    print(f"  peak RSS           {ours['peak_rss_mb']:8.0f} MB")
    if args.skip_peers:
        return 0
    paired: list[tuple[float, float]] = ours.get("pairs", [])  # type: ignore[assignment]
    if paired:
        ratios = sorted(mine / theirs for mine, theirs in paired)
        mine_med = statistics.median(m for m, _ in paired)
        theirs_med = statistics.median(t for _, t in paired)
        print(
            f"decode, 1 sequence, {len(paired)} alternating pairs with llama.cpp: "
            f"{mine_med:.1f} vs {theirs_med:.1f} tok/s (medians); per-pair ratio median "
            f"x{statistics.median(ratios):.2f}, range x{ratios[0]:.2f}-x{ratios[-1]:.2f}"
        )
    for name, peer in (
        ("llama-cpp-python (Q4_1)", llama_cpp_peer),
        ("transformers (bf16)", transformers_peer),
    ):
        figures = peer(model_path)
        if figures is None:
            print(f"{name}: not installed, skipped")
            continue
        print(
            f"{name}: prefill {figures['prefill']:.0f} tok/s, decode {figures['decode1']:.1f} tok/s"
            f" -> schedsight/peer: prefill x{ours['prefill'] / figures['prefill']:.2f},"  # type: ignore[operator]
            f" decode x{ours['decode1'] / figures['decode1']:.2f}"  # type: ignore[operator]
        )
        for streams in (8, 32):
            total = figures.get(f"total{streams}")
            if total is not None:
                print(
                    f"  {streams} sequences in one batch: {total:.1f} tok/s total"
                    f" -> schedsight/peer x{ours[f'total{streams}'] / total:.2f}"  # type: ignore[operator]
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Measuring a device for the placement planner (inference/hybrid/placement.py).

`measure` times, on the device itself, one decoder layer's dense work at a few batch sizes,
decode attention over a long cache (cost per cached token and per stream), and host-device
copies when the device is a GPU. Profiles are saved as JSON so that plans can be made and
tested later without the device (tests/inference/hybrid/profiles/).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812

from inference.config import ModelArgs
from inference.hybrid.placement import DeviceProfile

BATCHES = (1, 8, 32)


def measure(
    args: ModelArgs,
    device: torch.device,
    *,
    dtype: torch.dtype = torch.bfloat16,
    context: int = 2048,
    repeats: int = 20,
    name: str | None = None,
) -> DeviceProfile:
    """A profile of `device` for a model shaped like `args` (random weights, same sizes)."""
    dense = {b: _dense_s(args, device, dtype, b, repeats) for b in BATCHES}
    long, short = (_attention_s(args, device, dtype, 8, n, repeats) for n in (context, 16))
    per_token = max(long - short, 0.0) / (8 * (context - 16))
    per_stream = max(short - 16 * 8 * per_token, 0.0) / 8
    gbs, latency = _copy(device) if device.type == "cuda" else (0.0, 0.0)
    label = name or (torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu")
    return DeviceProfile(label, dense, per_token, per_stream, gbs, latency)


def save(profile: DeviceProfile, path: Path) -> None:
    path.write_text(json.dumps(profile.as_dict(), indent=2) + "\n")


def load(path: Path) -> DeviceProfile:
    return DeviceProfile.from_dict(json.loads(path.read_text()))


def _timed(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median seconds of `fn` after two warm-up calls."""
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


@torch.inference_mode()
def _dense_s(
    args: ModelArgs, device: torch.device, dtype: torch.dtype, batch: int, repeats: int
) -> float:
    def weight(rows: int, cols: int) -> torch.Tensor:
        return torch.randn(rows, cols, device=device, dtype=dtype) * 0.02

    qkv = weight((args.n_heads + 2 * args.n_kv_heads) * args.head_dim, args.dim)
    out = weight(args.dim, args.n_heads * args.head_dim)
    up, down = weight(2 * args.hidden_dim, args.dim), weight(args.dim, args.hidden_dim)
    x = torch.randn(batch, 1, args.dim, device=device, dtype=dtype)
    attn_out = torch.randn(batch, 1, args.n_heads * args.head_dim, device=device, dtype=dtype)

    def layer() -> torch.Tensor:
        F.linear(x, qkv)
        h = x + F.linear(attn_out, out)
        gate, lin = F.linear(h, up).chunk(2, dim=-1)
        return h + F.linear(F.silu(gate) * lin, down)

    return _timed(layer, device, repeats)


@torch.inference_mode()
def _attention_s(
    args: ModelArgs,
    device: torch.device,
    dtype: torch.dtype,
    streams: int,
    tokens: int,
    repeats: int,
) -> float:
    group = args.n_heads // args.n_kv_heads
    q = torch.randn(streams, args.n_kv_heads, group, args.head_dim, device=device, dtype=dtype)
    k = torch.randn(streams, args.n_kv_heads, tokens, args.head_dim, device=device, dtype=dtype)
    v = torch.randn_like(k)
    return _timed(lambda: F.scaled_dot_product_attention(q, k, v), device, repeats)


def _copy(device: torch.device) -> tuple[float, float]:
    """Host-to-device GB/s (64 MiB from pinned memory) and the latency of a tiny copy."""
    big = torch.empty(64 * 2**20, dtype=torch.uint8).pin_memory()
    small = torch.empty(256, dtype=torch.uint8).pin_memory()
    seconds = _timed(lambda: big.to(device, non_blocking=True), device, 10)
    latency = _timed(lambda: small.to(device, non_blocking=True), device, 50)
    return big.numel() / seconds / 1e9, latency

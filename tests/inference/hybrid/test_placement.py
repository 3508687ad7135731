"""The hybrid CPU-GPU placement planner, on recorded device profiles.

cpu-2core.json was measured on this project's 2-core machine (inference/hybrid/device_profile.py);
the GPU and server-CPU profiles come from spec sheets (no such device was lent here) and say
so in their `source`.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch

from inference.config import ModelArgs
from inference.hybrid.device_profile import load, measure, save
from inference.hybrid.placement import DeviceProfile, Mode, ModelFootprint, plan
from inference.loading.loader import DEFAULT_ARGS

PROFILES = Path(__file__).parent / "profiles"
MODEL = ModelFootprint.of(DEFAULT_ARGS, weight_bytes=270 * 2**20)
STREAMS = [2048] * 32  # 32 streams of 2,048 cached tokens: 1.4 GiB of KV


def profile(name: str) -> DeviceProfile:
    return load(PROFILES / name)


def test_footprint_of_smollm2() -> None:
    assert MODEL.kv_bytes_per_token == 2 * 30 * 3 * 64 * 2  # K and V, every layer, bf16
    assert MODEL.vector_bytes == (2 * 9 + 2 * 3) * 64 * 2


def test_everything_on_the_gpu_when_it_fits() -> None:
    p = plan(MODEL, STREAMS, 8 * 2**30, profile("a10-spec.json"), profile("cpu-2core.json"))
    assert p.mode is Mode.GPU and len(p.gpu_streams) == 32 and p.kv_cpu_tokens == 0


def test_weights_that_do_not_fit_put_everything_on_the_cpu() -> None:
    p = plan(MODEL, STREAMS, 200 * 2**20, profile("t4-spec.json"), profile("cpu-2core.json"))
    assert p.mode is Mode.CPU and not p.gpu_streams and p.step_s > 0
    assert plan(MODEL, STREAMS, 8 * 2**30, None, profile("cpu-2core.json")).mode is Mode.CPU


def test_small_gpu_with_a_strong_cpu_runs_offloaded_attention_on_the_cpu() -> None:
    budget = 1 * 2**30  # weights fit; about 40% of the 32 streams' KV does
    p = plan(MODEL, STREAMS, budget, profile("t4-spec.json"), profile("server-cpu-spec.json"))
    assert p.mode is Mode.HYBRID
    assert p.alternatives["hybrid"] < p.alternatives["host-offload"] / 1.5
    assert 0 < len(p.gpu_streams) < 32 and p.kv_gpu_tokens + p.kv_cpu_tokens == 32 * 2048
    usable = int(budget * 0.9) - MODEL.weight_bytes
    assert p.kv_gpu_tokens * MODEL.kv_bytes_per_token <= usable  # the budget holds


def test_a_weak_cpu_leaves_the_overflow_to_pcie_copies() -> None:
    # This project's 2-core machine attends ~10x slower per token than the PCIe 4 link copies.
    p = plan(MODEL, STREAMS, 1 * 2**30, profile("a10-spec.json"), profile("cpu-2core.json"))
    assert p.mode is Mode.HOST_OFFLOAD
    assert p.alternatives["host-offload"] < p.alternatives["hybrid"]


def test_more_gpu_memory_never_predicts_a_slower_step() -> None:
    gpu, cpu = profile("t4-spec.json"), profile("server-cpu-spec.json")
    steps = [plan(MODEL, STREAMS, gib * 2**28, gpu, cpu).step_s for gib in range(2, 12)]
    assert all(b <= a * (1 + 1e-9) for a, b in itertools.pairwise(steps))


def test_hybrid_keeps_the_gpu_from_becoming_the_slow_side() -> None:
    # A GPU barely faster than the CPU: filling it with KV would make it the bottleneck.
    slow_gpu = DeviceProfile("slow", {1: 1e-4, 32: 1e-4}, attn_s_per_token=9e-9, copy_gbs=50.0)
    cpu = profile("server-cpu-spec.json")
    p = plan(MODEL, STREAMS, 4 * 2**30, slow_gpu, cpu)  # every stream's KV would fit
    assert p.mode is Mode.HYBRID and p.alternatives["hybrid"] < p.alternatives["gpu"]
    assert 0 < len(p.cpu_streams) < 32


def test_profiles_round_trip_and_refuse_nonsense(tmp_path: Path) -> None:
    original = profile("t4-spec.json")
    save(original, tmp_path / "t4.json")
    assert load(tmp_path / "t4.json") == original
    third = original.dense(8) + (original.dense(32) - original.dense(8)) / 3
    assert original.dense(16) == pytest.approx(third)  # linear between recorded sizes
    with pytest.raises(ValueError, match="batch sizes"):
        DeviceProfile("bad", {}, 1e-9)
    no_link = DeviceProfile("gpu", {1: 1e-4}, 1e-9)
    with pytest.raises(ValueError, match="copy_gbs"):
        plan(MODEL, STREAMS, 1 * 2**30, no_link, profile("cpu-2core.json"))


def test_measuring_the_cpu_gives_a_usable_profile() -> None:
    tiny = ModelArgs(
        arch="llama", vocab_size=100, dim=64, n_layers=2, n_heads=4, n_kv_heads=2,
        hidden_dim=128, head_dim=16, norm_eps=1e-5, rope_theta=10000.0, max_seq_len=512,
        tie_embeddings=True,
    )  # fmt: skip
    p = measure(tiny, torch.device("cpu"), context=256, repeats=3)
    assert set(p.dense_s) == {1, 8, 32} and all(v > 0 for v in p.dense_s.values())
    assert p.attn_s_per_token >= 0 and p.copy_gbs == 0.0 and p.source == "measured"

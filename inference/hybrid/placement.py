"""Where weights and KV cache live when the GPU is small: an APEX-style placement plan.

Decoding one token for B streams runs, per layer, the dense work (QKV, output and MLP
matmuls; cost grows slowly with B) and attention over each stream's cached keys and values
(cost grows with the cached tokens, bound by memory bandwidth). When the KV cache of every
stream does not fit the GPU's budget beside the weights, two plans keep the GPU busy:

- host offload (what vLLM-style swapping does): the overflow KV lives in host memory and is
  copied to the GPU for attention at every step, overlapped with compute, so a step costs
  max(GPU work, PCIe copy of the overflow);
- hybrid (APEX, 2025): the overflow streams' attention runs on the CPU, next to their KV,
  while the GPU runs the other streams' layer; only each overflow stream's query, key,
  value and output vectors cross PCIe. As `inference.hybrid.decoder` runs it (two sub-batches,
  pipelined per layer), a layer costs the overflow streams' dense work on the GPU plus
  max(the resident streams' whole layer on the GPU, CPU attention + vector copies).

`plan` picks the cheapest of these from measured device profiles (`DeviceProfile`, which
inference/hybrid/device_profile.py records): GPU-only when everything fits, CPU-only always when
the weights do not. It puts streams on the GPU largest first, up to its KV budget, and never
past the point where the GPU rather than the CPU becomes the slow side, so a hybrid plan may
leave some streams on the CPU even when all of them would fit.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from enum import Enum

from inference.config import ModelArgs

ACTIVATION_RESERVE = 0.10  # share of the GPU budget kept for activations and allocator slack


class Mode(Enum):
    GPU = "gpu"  # weights and all KV on the GPU
    HYBRID = "hybrid"  # overflow KV stays on the CPU, which runs its attention
    HOST_OFFLOAD = "host-offload"  # overflow KV on the host, copied to the GPU every step
    CPU = "cpu"  # the weights do not fit the GPU: everything on the CPU


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """Measured costs of one device for one model (seconds, per layer, per decode step).

    dense_s: batch size -> seconds of one layer's matmuls for that many tokens (interpolated
    linearly between the recorded sizes); attn_s_per_token: seconds of decode attention per
    cached token of one stream; attn_s_per_stream: fixed cost per stream and layer;
    copy_gbs: host<->device bandwidth in GB/s (GPU profiles); copy_latency_s: per copy.
    """

    name: str
    dense_s: dict[int, float]
    attn_s_per_token: float
    attn_s_per_stream: float = 0.0
    copy_gbs: float = 0.0
    copy_latency_s: float = 0.0
    source: str = "measured"  # or "spec sheet" for profiles not measured on the device

    def __post_init__(self) -> None:
        if not self.dense_s or min(self.dense_s) < 1:
            raise ValueError(f"profile {self.name}: dense_s needs batch sizes >= 1")
        if self.attn_s_per_token < 0 or self.attn_s_per_stream < 0 or self.copy_gbs < 0:
            raise ValueError(f"profile {self.name}: costs must be >= 0")

    def dense(self, batch: int) -> float:
        sizes = sorted(self.dense_s)
        if batch <= sizes[0]:
            return self.dense_s[sizes[0]] * batch / sizes[0] if batch else 0.0
        for lo, hi in itertools.pairwise(sizes):
            if batch <= hi:
                w = (batch - lo) / (hi - lo)
                return self.dense_s[lo] * (1 - w) + self.dense_s[hi] * w
        last, before = sizes[-1], sizes[-2] if len(sizes) > 1 else 0
        slope = (self.dense_s[last] - self.dense_s.get(before, 0.0)) / (last - before)
        return self.dense_s[last] + slope * (batch - last)

    def attention(self, tokens: int, streams: int) -> float:
        return self.attn_s_per_token * tokens + self.attn_s_per_stream * streams

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> DeviceProfile:
        raw = dict(data)
        dense = raw.pop("dense_s")
        assert isinstance(dense, dict)
        return cls(dense_s={int(k): float(v) for k, v in dense.items()}, **raw)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ModelFootprint:
    """Bytes a model needs: its weights and one cached token (all layers, K and V)."""

    weight_bytes: int
    kv_bytes_per_token: int
    layers: int
    vector_bytes: int  # one stream's q, k, v and attention output for one layer

    @classmethod
    def of(cls, args: ModelArgs, weight_bytes: int, dtype_bytes: int = 2) -> ModelFootprint:
        kv = 2 * args.n_layers * args.n_kv_heads * args.head_dim * dtype_bytes
        vectors = (2 * args.n_heads + 2 * args.n_kv_heads) * args.head_dim * dtype_bytes
        return cls(weight_bytes, kv, args.n_layers, vectors)


@dataclass(frozen=True, slots=True)
class Plan:
    mode: Mode
    gpu_streams: tuple[int, ...]  # indices of streams whose KV lives on the GPU
    cpu_streams: tuple[int, ...]  # the others (on the host: CPU attention or copied)
    kv_gpu_tokens: int
    kv_cpu_tokens: int
    step_s: float  # predicted seconds per decode step (all streams, all layers)
    alternatives: dict[str, float] = field(default_factory=dict)  # mode -> its step_s

    @property
    def tokens_per_s(self) -> float:
        streams = len(self.gpu_streams) + len(self.cpu_streams)
        return streams / self.step_s if self.step_s > 0 else 0.0


def plan(
    footprint: ModelFootprint,
    contexts: list[int],
    gpu_budget_bytes: int,
    gpu: DeviceProfile | None,
    cpu: DeviceProfile,
) -> Plan:
    """The cheapest placement of `contexts` (cached tokens per stream) under the budget."""
    everyone = tuple(range(len(contexts)))
    total = sum(contexts)
    cpu_only = footprint.layers * (cpu.dense(len(contexts)) + cpu.attention(total, len(contexts)))
    usable = int(gpu_budget_bytes * (1 - ACTIVATION_RESERVE)) - footprint.weight_bytes
    if gpu is None or usable < 0:
        return Plan(Mode.CPU, (), everyone, 0, total, cpu_only, {Mode.CPU.value: cpu_only})
    if gpu.copy_gbs <= 0:
        raise ValueError(f"GPU profile {gpu.name} has no host-device bandwidth (copy_gbs)")
    on_gpu = fill(contexts, kv_capacity(footprint, gpu_budget_bytes))
    hybrid = _balanced(footprint, contexts, on_gpu, gpu, cpu)
    steps = {Mode.HYBRID.value: hybrid[1], Mode.CPU.value: cpu_only}
    if len(on_gpu) == len(contexts):
        steps[Mode.GPU.value] = _gpu_side(footprint, gpu, contexts, everyone)
    else:
        steps[Mode.HOST_OFFLOAD.value] = _host_offload(footprint, contexts, on_gpu, gpu)
    # Ties go to the simpler plan: everything on the GPU, then copies, then the CPU's help.
    order = [Mode.GPU.value, Mode.HOST_OFFLOAD.value, Mode.HYBRID.value, Mode.CPU.value]
    best = min((m for m in order if m in steps), key=steps.__getitem__)
    chosen = {Mode.HYBRID.value: hybrid[0], Mode.CPU.value: ()}.get(best, on_gpu)
    rest = tuple(i for i in everyone if i not in chosen)
    gpu_tokens = sum(contexts[i] for i in chosen)
    return Plan(Mode(best), tuple(sorted(chosen)), rest, gpu_tokens, total - gpu_tokens,
                steps[best], steps)  # fmt: skip


def kv_capacity(footprint: ModelFootprint, gpu_budget_bytes: int) -> int:
    """Tokens of KV cache the GPU holds beside the weights under the budget (0: none)."""
    usable = int(gpu_budget_bytes * (1 - ACTIVATION_RESERVE)) - footprint.weight_bytes
    return max(usable, 0) // footprint.kv_bytes_per_token


def fill(contexts: list[int], capacity: int) -> tuple[int, ...]:
    """Streams whose KV fits the GPU, largest first (their attention gains most there)."""
    chosen: list[int] = []
    used = 0
    for i in sorted(range(len(contexts)), key=lambda i: -contexts[i]):
        if used + contexts[i] <= capacity:
            chosen.append(i)
            used += contexts[i]
    return tuple(chosen)


def _gpu_side(
    footprint: ModelFootprint, gpu: DeviceProfile, contexts: list[int], on_gpu: tuple[int, ...]
) -> float:
    tokens = sum(contexts[i] for i in on_gpu)
    per_layer = gpu.dense(len(contexts)) + gpu.attention(tokens, len(on_gpu))
    return footprint.layers * per_layer


def _balanced(
    footprint: ModelFootprint,
    contexts: list[int],
    on_gpu: tuple[int, ...],
    gpu: DeviceProfile,
    cpu: DeviceProfile,
) -> tuple[tuple[int, ...], float]:
    """Hybrid: the best number of GPU streams (the largest ones kept), from all of them down
    to none. Every count is tried: splitting into two sub-batches costs a second batch of
    dense work, so the step is not convex in the count and a greedy search stops early."""
    largest_first = sorted(on_gpu, key=lambda i: -contexts[i])
    best: tuple[int, ...] = tuple(on_gpu)
    best_s = _hybrid_step(footprint, contexts, best, gpu, cpu)
    for keep in range(len(largest_first) - 1, -1, -1):
        chosen = tuple(largest_first[:keep])
        step = _hybrid_step(footprint, contexts, chosen, gpu, cpu)
        if step < best_s:
            best, best_s = chosen, step
    return best, best_s


def _hybrid_step(
    footprint: ModelFootprint,
    contexts: list[int],
    on_gpu: tuple[int, ...],
    gpu: DeviceProfile,
    cpu: DeviceProfile,
) -> float:
    """A layer as `inference.hybrid.decoder` runs it, in two sub-batches: the offloaded streams'
    dense work on the GPU, plus the longer of the resident streams' whole layer on the GPU
    and the offloaded streams' CPU attention with its copies."""
    resident_set = set(on_gpu)
    off = [i for i in range(len(contexts)) if i not in resident_set]
    if not off:
        return _gpu_side(footprint, gpu, contexts, on_gpu)
    cpu_attn = cpu.attention(sum(contexts[i] for i in off), len(off))
    copies = 2 * gpu.copy_latency_s + len(off) * footprint.vector_bytes / (gpu.copy_gbs * 1e9)
    resident = gpu.dense(len(on_gpu)) + gpu.attention(sum(contexts[i] for i in on_gpu),
                                                      len(on_gpu))  # fmt: skip
    return footprint.layers * (gpu.dense(len(off)) + max(resident, cpu_attn + copies))


def _host_offload(
    footprint: ModelFootprint, contexts: list[int], on_gpu: tuple[int, ...], gpu: DeviceProfile
) -> float:
    """Overflow KV copied to the GPU every step (overlapped), the GPU attending to all."""
    overflow = sum(contexts) - sum(contexts[i] for i in on_gpu)
    per_layer_bytes = overflow * footprint.kv_bytes_per_token / footprint.layers
    copy = gpu.copy_latency_s + per_layer_bytes / (gpu.copy_gbs * 1e9)
    compute = _gpu_side(footprint, gpu, contexts, tuple(range(len(contexts))))
    return footprint.layers * max(compute / footprint.layers, copy)

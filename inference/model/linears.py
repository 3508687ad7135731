"""Linear layers whose weights are laid out once, at load, for the CPU kernels that run them."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class PackedLinear(nn.Module):
    """A bias-optional linear layer whose weight oneDNN has reordered once, ahead of time.

    On this kind of CPU it runs bf16 matmuls 1.3-1.8x faster than `F.linear`, which
    re-lays-out the weight, or reads it less efficiently, on every call (bench/model_speed.py).
    """

    def __init__(self, weight: Tensor, bias: Tensor | None) -> None:
        super().__init__()
        self.packed: Tensor = torch.ops.mkldnn._reorder_linear_weight(weight)  # opaque layout
        self.bias = bias

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")
        return out


# From this many rows (tokens in one matmul) a bf16 copy of a quantized weight, packed for
# oneDNN, beats the int4/int8 kernels 2-3x (bench/model_speed.py --layouts); below it, with
# the weights streamed from memory once per step, the quantized kernels win. Speculative
# verification (at most 7 rows by default) stays below it, so it runs decoding's kernels.
DENSE_ROWS = 8


class DenseCopy:
    """A quantized layer's weights, dequantized to bf16 and packed: it serves matmuls of at
    least `DENSE_ROWS` rows (prefill chunks, batched decoding). The same values as the
    quantized weights, only rounded to bf16; it costs 2 bytes per weight more."""

    def __init__(self, dequantized: Tensor, bias: Tensor | None) -> None:
        self.linear = PackedLinear(dequantized.bfloat16(), bias)

    def wants(self, x: Tensor) -> bool:
        return x.numel() >= DENSE_ROWS * x.shape[-1]

    def __call__(self, x: Tensor) -> Tensor:
        out: Tensor = self.linear(x)
        return out


class Int4Linear(nn.Module):
    """A linear layer with int4 weights, groups of 32 along the input: a quarter of bf16's bytes.

    Asymmetric per-group min/scale quantization, as GGUF's Q4_1: weights that came from a
    Q4_1 file quantize back to their own 4-bit values, so only the bf16 rounding of the scales
    differs from the file. Needs bf16 activations on the CPU.
    """

    GROUP = 32

    def __init__(self, weight: Tensor, bias: Tensor | None, *, dense_copy: bool = False) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        if self.in_features % self.GROUP:
            raise ValueError(f"int4 weights need in_features divisible by {self.GROUP}")
        w = weight.float().view(self.out_features, -1, self.GROUP)  # [out, in / 32, 32]
        low = w.amin(dim=-1, keepdim=True)
        scale = ((w.amax(dim=-1, keepdim=True) - low) / 15).clamp(min=1e-10)
        q = ((w - low) / scale).round().clamp(0, 15).to(torch.int32).view(weight.shape)
        self.packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 1)
        # The kernel computes (q - 8) * scale + zero, from [in / 32, out, 2] (scale, zero) pairs.
        zero = low + 8 * scale
        self.scales_zeros = torch.cat((scale, zero), -1).transpose(0, 1).contiguous().bfloat16()
        self.bias = bias
        self.dense: DenseCopy | None = None
        if dense_copy:
            scale, zero = scale.bfloat16().float(), zero.bfloat16().float()  # as the kernel has
            values = (q.view(w.shape).float() - 8) * scale + zero
            self.dense = DenseCopy(values.view(weight.shape), bias)

    def forward(self, x: Tensor) -> Tensor:
        if self.dense is not None and self.dense.wants(x):
            return self.dense(x)
        flat = x.reshape(-1, self.in_features).contiguous()  # [B * T, in]
        out: Tensor = torch.ops.aten._weight_int4pack_mm_for_cpu(
            flat, self.packed, self.GROUP, self.scales_zeros
        )
        out = out.view(*x.shape[:-1], self.out_features)
        return out if self.bias is None else out + self.bias


def int8_rows(weight: Tensor) -> tuple[Tensor, Tensor]:
    """Symmetric per-row int8: (q [rows, cols] int8, scale [rows] float32), w ~ q * scale."""
    w = weight.float()
    scale = (w.abs().amax(dim=1) / 127).clamp(min=1e-10)
    return (w / scale[:, None]).round().clamp(-127, 127).to(torch.int8), scale


def int8_values(q: Tensor, scale: Tensor) -> Tensor:
    """The float32 weights that per-row int8 `q` and `scale` stand for."""
    return q.float() * scale.float()[:, None]


class Int8Linear(nn.Module):
    """A linear layer with int8 weights, one symmetric scale per output row: half of bf16's
    bytes (`_weight_int8pack_mm`, bf16 activations on a CPU). Closer to 16-bit weights than
    int4; for a 4-bit file, int4 gives the file's own values back and int8 does not.
    """

    def __init__(self, weight: Tensor, bias: Tensor | None, *, dense_copy: bool = False) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.q, scale = int8_rows(weight)
        self.scale = scale.bfloat16()
        self.bias = bias
        self.dense = DenseCopy(int8_values(self.q, self.scale), bias) if dense_copy else None

    def forward(self, x: Tensor) -> Tensor:
        if self.dense is not None and self.dense.wants(x):
            return self.dense(x)
        flat = x.reshape(-1, self.in_features).contiguous()
        out: Tensor = torch.ops.aten._weight_int8pack_mm(flat, self.q, self.scale)
        out = out.view(*x.shape[:-1], self.out_features)
        return out if self.bias is None else out + self.bias


def can_pack(dtype: torch.dtype, device: torch.device) -> bool:
    """Whether `PackedLinear` pays: bf16 on a CPU with oneDNN bf16 support."""
    return (
        device.type == "cpu"
        and dtype == torch.bfloat16
        and torch._C._has_mkldnn
        and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    )


class Int8Table(Int8Linear):
    """A [rows, dim] weight in int8 with one scale per row: an lm_head and, when the model
    ties them, its token embedding too, from one table at a quarter of float32's bytes.

    An `Int8Linear` without bias that can also look rows up (`embed`). For a tied SmolLM2
    head from a Q8_0 GGUF the greedy tokens and 97-100% of the teacher-forced top-1 tokens
    equal the bf16 head's (tests/inference/model/test_model.py).
    """

    def __init__(self, weight: Tensor, dtype: torch.dtype, *, dense_copy: bool = False) -> None:
        super().__init__(weight, None, dense_copy=dense_copy)
        self.dtype = dtype

    def embed(self, tokens: Tensor) -> Tensor:
        """Rows for `tokens` [B, T] -> [B, T, dim] in the model dtype."""
        return self.q[tokens].to(self.dtype) * self.scale[tokens].unsqueeze(-1)

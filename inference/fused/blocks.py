"""Decode steps through the transformer blocks as a single C++ call.

A one-sequence decode step runs ~20 small operators per block; on a 2-core CPU the Python
interpreter and `nn.Module` dispatch around them cost about a quarter of the step. The
extension (`inference.fused.extension`) calls the same ATen operators in the same order, so its
output equals the Python path's bit for bit (`attach` checks that on the model before using
it). With int4 or int8 weights it serves one sequence's decode steps and speculative
verifications, and decode steps of batches (from `DENSE_ROWS` rows on through the dense
copies, as the Python path does); prefill chunks stay in Python, where the overhead is
shared by many rows.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

import torch
from torch import nn

from inference.model.kv_cache import KVCache
from inference.model.linears import DENSE_ROWS, Int4Linear, Int8Linear
from inference.model.step import Step
from inference.model.transformer import Transformer, TransformerBlock

log = logging.getLogger(__name__)


def supports(model: Transformer) -> bool:
    """Whether every block matmul runs a kernel the extension calls (int4 or int8 weights)."""
    if model.rope_cos.device.type != "cpu" or model.dtype != torch.bfloat16:
        return False
    return all(
        isinstance(linear, Int4Linear | Int8Linear)
        for layer in _blocks(model)
        for linear in (
            layer.attention.wqkv,
            layer.attention.wo,
            layer.feed_forward.w13,
            layer.feed_forward.w2,
        )
    )


def _blocks(model: Transformer) -> list[TransformerBlock]:
    return [layer for layer in model.layers if isinstance(layer, TransformerBlock)]


class FusedBlocks:
    """The model's blocks for decode steps and verifications, in C++."""

    def __init__(self, module: ModuleType, model: Transformer) -> None:
        if not supports(model):
            raise ValueError("the fused decode step needs int4 or int8 weights on a CPU, in bf16")
        args = model.args
        self.decoder = module.Decoder(
            args.n_heads, args.n_kv_heads, args.head_dim, args.dim, args.norm_eps
        )
        for layer in _blocks(model):
            attention, ff = layer.attention, layer.feed_forward
            linears = [_linear(module, m) for m in (attention.wqkv, attention.wo, ff.w13, ff.w2)]
            self.decoder.add_block(
                layer.attention_norm.doubled_weight(), layer.ffn_norm.doubled_weight(), linears
            )

    @staticmethod
    def serves(x: torch.Tensor, step: Step) -> bool:
        """One sequence's decode step or per-token verification, or one decode step of a
        batch; prefill chunks and batched verifications stay in Python."""
        bsz, seqlen = x.shape[:2]
        if bsz > 1:
            return seqlen == 1 and step.rows is not None
        return step.rows is None and (seqlen == 1 or step.per_token_from is not None)

    def __call__(
        self, x: torch.Tensor, k_all: torch.Tensor, v_all: torch.Tensor, step: Step
    ) -> torch.Tensor:
        out: torch.Tensor
        if step.rows is None:
            assert isinstance(step.positions, slice)
            out = self.decoder.forward(x, k_all, v_all, step.cos, step.sin, step.positions.start)
        else:
            out = self.decoder.forward_batch(
                x,
                k_all,
                v_all,
                step.cos,
                step.sin,
                step.rows,
                step.positions,
                step.mask,
                step.max_end,
            )
        return out


def _linear(module: ModuleType, linear: nn.Module) -> Any:
    if not isinstance(linear, Int4Linear | Int8Linear):
        raise ValueError(
            f"the fused decode step runs int4 or int8 layers, not {type(linear).__name__}"
        )
    dense = None if linear.dense is None else linear.dense.linear.packed
    if isinstance(linear, Int4Linear):
        weight, scales, group = linear.packed, linear.scales_zeros, linear.GROUP
    else:
        weight, scales, group = linear.q, linear.scale, 0
    return module.Linear(
        isinstance(linear, Int4Linear),
        weight,
        scales,
        linear.bias,
        linear.in_features,
        linear.out_features,
        group,
        dense,
        DENSE_ROWS,
    )


def attach(model: Transformer, module: ModuleType) -> bool:
    """Use the extension for `model`'s decode steps if it reproduces the Python path's logits
    and cache writes exactly on a short check (a decode step, a 3-token verification, a step
    of two sequences of different lengths and one of nine, which takes the dense copies, each
    way on a cache of its own); else, or if the check fails, keep Python."""
    if not supports(model):
        return False
    blocks = FusedBlocks(module, model)
    prompt = torch.arange(1, 6).view(1, -1) % model.args.vocab_size
    five = torch.tensor([5])
    runs = []
    same = False
    try:
        for using in (None, blocks):
            cache = KVCache(model.args, 9, 12, dtype=model.dtype)
            model.fused = None
            model(prompt, torch.zeros(1, dtype=torch.long), cache)
            model(prompt[:, :4].expand(8, 4), torch.zeros(8, dtype=torch.long), cache, 1)
            model.fused = using
            one = model(prompt[:, :1], five, cache)
            three = model(prompt[:, :3], five, cache, last_only=False, per_token=True)
            pair = model(prompt[0, :2].view(2, 1), torch.tensor([8, 4]), cache)
            nine = model(
                (torch.arange(9).view(9, 1) + 7) % model.args.vocab_size,
                torch.tensor([9, 5, *[4] * 7]),
                cache,
            )
            runs.append((one, three, pair, nine, cache.k, cache.v))
        same = all(torch.equal(a, b) for a, b in zip(*runs, strict=True))
    except (RuntimeError, ValueError) as exc:
        log.warning("fused decode: its check failed (%s); not used", exc)
        return False
    finally:
        model.fused = blocks if same else None
    if not same:
        log.warning("fused decode: it differs from the Python path on this build; not used")
    return same

"""A tiny random Qwen2-shaped model for tests that need a whole model but not a real one."""

from __future__ import annotations

import torch

from inference.config import ModelArgs
from inference.loading import weights


def tiny_args() -> ModelArgs:
    """A two-layer Qwen2-shaped model: q/k/v biases, two query heads per KV head."""
    return ModelArgs(
        arch="qwen2",
        vocab_size=97,
        dim=64,
        n_layers=2,
        n_heads=4,
        n_kv_heads=2,
        hidden_dim=96,
        head_dim=16,
        norm_eps=1e-6,
        rope_theta=10000.0,
        max_seq_len=128,
        tie_embeddings=True,
        attention_bias=True,
    )


def random_weights(args: ModelArgs, seed: int = 0) -> dict[str, torch.Tensor]:
    return weights.random_weights(args, scale=0.2, seed=seed)

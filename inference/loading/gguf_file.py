"""Reading a llama.cpp GGUF file: metadata → `ModelArgs`, (quantized) tensors → float32 weights
under Hugging Face names, and the vocabulary → `Tokenizer`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, quants

from inference.config import ModelArgs, RopeScaling
from inference.errors import ModelLoadError, UnsupportedError
from inference.loading.gguf_header import TensorInfo, read_header
from inference.loading.loaded_model import LoadedModel
from inference.loading.tokenizer import Tokenizer
from inference.loading.weights import LazyWeights

_Q = GGMLQuantizationType
SUPPORTED_TYPES = frozenset(
    {_Q.F32, _Q.F16, _Q.BF16, _Q.Q8_0, _Q.Q4_0, _Q.Q4_1, _Q.Q5_0, _Q.Q5_1}
    | {_Q.Q2_K, _Q.Q3_K, _Q.Q4_K, _Q.Q5_K, _Q.Q6_K}
)
_TOP_LEVEL = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
_IN_BLOCK = {
    "attn_norm": "input_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_norm": "post_attention_layernorm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_BLOCK_TENSOR = re.compile(r"blk\.(\d+)\.(\w+)\.(weight|bias)")
_ROPE_FREQS = "rope_freqs.weight"  # Llama 3.1 scaling, precomputed per frequency
_ROWS_PER_CHUNK = 4096  # rows dequantized at a time when reading a large tensor


def load_gguf(path: Path) -> LoadedModel:
    """Read a GGUF model; each weight is dequantized to float32 when read, Q/K in HF order."""
    header = read_header(path)
    meta = header.metadata
    tensors = {t.name: t for t in header.tensors}
    args = model_args(meta, tensors, len(meta.get("tokenizer.ggml.tokens") or []), path)
    tokenizer = Tokenizer.from_gguf(meta)
    names = {hf: name for name in tensors if (hf := _hf_name(name, path)) is not None}
    shapes = {hf: tuple(reversed(tensors[name].shape)) for hf, name in names.items()}

    def read(hf_name: str, dtype: torch.dtype) -> torch.Tensor:
        tensor = tensors[names[hf_name]]
        heads = {".q_proj.": args.n_heads, ".k_proj.": args.n_kv_heads}
        for part, n_heads in heads.items():
            if args.arch == "llama" and part in hf_name:
                weight = _unpermute(dequantized(tensor, path), n_heads)
                return torch.from_numpy(np.require(weight, np.float32, ["C", "W"])).to(dtype)
        return dequantized_as(tensor, path, dtype)

    for tensor in tensors.values():  # refuse unsupported types now, not at first use
        check_type(tensor, path)
    template = meta.get("tokenizer.chat_template")
    return LoadedModel(
        name=path.stem,
        args=args,
        state_dict=LazyWeights(shapes, read),
        tokenizer=tokenizer,
        chat_template=template if isinstance(template, str) else None,
        source=str(path),
        weight_type=block_weight_type(tensors),
    )


def block_weight_type(tensors: dict[str, TensorInfo]) -> str:
    """The most common type of the blocks' matmul weights (norms are always F32)."""
    kinds = Counter(
        t.tensor_type.name
        for name, t in tensors.items()
        if name.startswith("blk.") and len(t.shape) == 2
    )
    return kinds.most_common(1)[0][0] if kinds else "F32"


def model_args(
    meta: dict[str, Any], tensors: dict[str, TensorInfo], n_tokens: int, path: Path
) -> ModelArgs:
    """`ModelArgs` from the `<arch>.*` metadata keys (Mistral files say "llama")."""
    arch = meta.get("general.architecture")
    if arch not in ("llama", "qwen2"):
        raise UnsupportedError(
            f"{path}: GGUF architecture {arch!r} is not supported; schedsight runs 'llama' "
            "(Llama, Mistral, SmolLM) and 'qwen2' files"
        )

    def need(key: str) -> Any:
        if f"{arch}.{key}" not in meta:
            raise ModelLoadError(f"{path}: GGUF metadata lacks {arch}.{key}")
        return meta[f"{arch}.{key}"]

    dim, n_heads = int(need("embedding_length")), int(need("attention.head_count"))
    head_dim = meta.get(f"{arch}.attention.key_length") or meta.get(f"{arch}.rope.dimension_count")
    return ModelArgs(
        arch=arch,
        vocab_size=int(meta.get(f"{arch}.vocab_size") or n_tokens),
        dim=dim,
        n_layers=int(need("block_count")),
        n_heads=n_heads,
        n_kv_heads=int(meta.get(f"{arch}.attention.head_count_kv") or n_heads),
        hidden_dim=int(need("feed_forward_length")),
        head_dim=int(head_dim or dim // n_heads),
        norm_eps=_decimal(need("attention.layer_norm_rms_epsilon")),
        rope_theta=_decimal(meta.get(f"{arch}.rope.freq_base", 10000.0)),
        max_seq_len=int(need("context_length")),
        tie_embeddings="output.weight" not in tensors,
        attention_bias="blk.0.attn_q.bias" in tensors,
        rope_scaling=_rope_scaling(meta, arch, tensors.get(_ROPE_FREQS), path),
    )


def dequantized(tensor: TensorInfo, path: Path) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The tensor as float32 in Hugging Face layout [out_features, in_features]."""
    check_type(tensor, path)
    values = dequantize(tensor.data, tensor.tensor_type)
    # GGUF lists dimensions fastest-first, so [in, out] there is [out, in] in row-major order.
    return values.reshape(tuple(reversed(tensor.shape))).astype(np.float32, copy=False)


def dequantize(
    data: np.ndarray[Any, Any], kind: GGMLQuantizationType
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """`gguf.quants.dequantize` in one call over all of `data`'s blocks: the same arithmetic
    (gguf's own `dequantize_blocks`), so the same bits, ~2.5x faster than its groups of 16
    rows (~2 s less at the embedded model's start on 2 cores)."""
    if kind in (_Q.F32, _Q.F16, _Q.BF16):
        return quants.dequantize(data, kind)
    block, type_size = GGML_QUANT_SIZES[kind]
    rows = data.view(np.uint8)
    values: np.ndarray[Any, np.dtype[np.float32]] = getattr(quants, kind.name).dequantize_blocks(
        rows.reshape(-1, type_size)
    )
    return values.reshape(*rows.shape[:-1], rows.shape[-1] // type_size * block)


def dequantized_as(tensor: TensorInfo, path: Path, dtype: torch.dtype) -> torch.Tensor:
    """The tensor in `dtype` and Hugging Face layout, dequantized a few thousand rows at a time
    (a 49,152-row embedding would otherwise pass through several float32 copies of itself)."""
    shape = tuple(reversed(tensor.shape))
    if len(shape) != 2 or shape[0] <= _ROWS_PER_CHUNK:
        values = np.require(dequantized(tensor, path), np.float32, ["C", "W"])
        return torch.from_numpy(values).to(dtype)
    check_type(tensor, path)
    data = tensor.data.reshape(shape[0], -1)
    out = torch.empty(shape, dtype=dtype)
    for start in range(0, shape[0], _ROWS_PER_CHUNK):
        rows = dequantize(data[start : start + _ROWS_PER_CHUNK], tensor.tensor_type)
        chunk = np.require(rows.reshape(-1, shape[1]), np.float32, ["C", "W"])
        out[start : start + _ROWS_PER_CHUNK] = torch.from_numpy(chunk)
    return out


def check_type(tensor: TensorInfo, path: Path) -> None:
    if tensor.tensor_type not in SUPPORTED_TYPES:
        names = ", ".join(sorted(t.name for t in SUPPORTED_TYPES))
        raise UnsupportedError(
            f"{path}: tensor {tensor.name} is {tensor.tensor_type.name}, which schedsight cannot "
            f"dequantize (supported: {names}); pick a file with another quantization"
        )


def _unpermute(w: np.ndarray[Any, Any], n_heads: int) -> np.ndarray[Any, Any]:
    """Undo llama.cpp's per-head reordering of Q/K rows (it pairs rotary halves differently)."""
    return (
        w.reshape(n_heads, w.shape[0] // n_heads // 2, 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def _hf_name(name: str, path: Path) -> str | None:
    """The Hugging Face state-dict key of a GGUF tensor (None: consumed elsewhere)."""
    if name in _TOP_LEVEL:
        return _TOP_LEVEL[name]
    if name == _ROPE_FREQS:
        return None
    m = _BLOCK_TENSOR.fullmatch(name)
    if m is None or m[2] not in _IN_BLOCK:
        raise UnsupportedError(f"{path}: tensor {name} has no place in a Llama-family model")
    return f"model.layers.{m[1]}.{_IN_BLOCK[m[2]]}.{m[3]}"


def _rope_scaling(
    meta: dict[str, Any], arch: str, freqs: TensorInfo | None, path: Path
) -> RopeScaling | None:
    """Llama 3 RoPE scaling, read from metadata or recovered from the rope_freqs tensor."""
    kind = meta.get(f"{arch}.rope.scaling.type")
    if kind in (None, "none") and freqs is None:
        return None
    if kind not in (None, "none", "llama3") or freqs is None:
        raise UnsupportedError(
            f"{path}: RoPE scaling {kind!r} is not supported (only Llama 3 style scaling is)"
        )
    factors = dequantized(freqs, path).reshape(-1)

    def key(name: str, default: float) -> float:
        return float(meta.get(f"{arch}.rope.scaling.{name}", default))

    # llama.cpp keeps only the per-frequency factors; Meta's Llama 3.x constants reproduce them.
    scaling = RopeScaling(
        factor=key("factor", float(factors.max())),
        low_freq_factor=key("low_freq_factor", 1.0),
        high_freq_factor=key("high_freq_factor", 4.0),
        original_max_position_embeddings=int(key("original_context_length", 8192)),
    )
    theta = float(meta.get(f"{arch}.rope.freq_base", 10000.0))
    if not np.allclose(llama3_rope_factors(scaling, theta, 2 * factors.size), factors, rtol=1e-4):
        raise UnsupportedError(
            f"{path}: {_ROPE_FREQS} does not match Llama 3 RoPE scaling with {scaling}; load the "
            "model's Hugging Face directory instead"
        )
    return scaling


def llama3_rope_factors(scaling: RopeScaling, theta: float, head_dim: int) -> list[float]:
    """The divisor of each rotary frequency under Llama 3 scaling (llama.cpp's rope_freqs)."""
    low_wavelen = scaling.original_max_position_embeddings / scaling.low_freq_factor
    high_wavelen = scaling.original_max_position_embeddings / scaling.high_freq_factor
    out = []
    for i in range(0, head_dim, 2):
        wavelen = 2 * math.pi * theta ** (i / head_dim)
        if wavelen < high_wavelen:
            out.append(1.0)
        elif wavelen > low_wavelen:
            out.append(scaling.factor)
        else:
            smooth = (
                scaling.original_max_position_embeddings / wavelen - scaling.low_freq_factor
            ) / (scaling.high_freq_factor - scaling.low_freq_factor)
            out.append(1 / ((1 - smooth) / scaling.factor + smooth))
    return out


def _decimal(value: float) -> float:
    """A float32 metadata value as the decimal it was written from (9.99999e-06 → 1e-05)."""
    return float(str(np.float32(value)))

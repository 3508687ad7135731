"""A Llama-family decoder (Llama, Mistral, Qwen2) for the engine, in the style of gpt-fast.

Weights arrive as a Hugging Face-named state dict (`Transformer.from_state_dict`); q/k/v and
gate/up are fused into one matmul each. `forward` runs B sequences over their `KVCache` slots:
a prefill chunk of one sequence (B=1, T tokens) or one decode step of B sequences (T=1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import partial
from typing import Literal

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor, nn

from inference.config import ModelArgs, RopeScaling
from inference.loading.weights import check_weights, read_as
from inference.model.kv_cache import KVCache
from inference.model.linears import Int4Linear, Int8Linear, Int8Table, PackedLinear, can_pack
from inference.model.memory import trim_heap
from inference.model.step import FusedDecode, Step


def precompute_rope(args: ModelArgs) -> tuple[Tensor, Tensor]:
    """cos and signed sin, each [max_seq_len, head_dim] float32, for `apply_rope`.

    Hugging Face's rotate-half layout: both halves of a row hold the same angles. The first
    half of sin is negated, which folds rotate-half's minus sign into the table.
    """
    # On the CPU even under `torch.device("meta")` (`from_state_dict` builds the skeleton
    # there): meta ops import torch._dynamo, ~2.5 s of a server's start on 2 cores.
    half = torch.arange(0, args.head_dim, 2, dtype=torch.int64, device="cpu").float()
    half = half / args.head_dim
    inv_freq = 1.0 / (args.rope_theta**half)  # [head_dim / 2]
    if args.rope_scaling is not None:
        inv_freq = scale_llama3_frequencies(inv_freq, args.rope_scaling)
    positions = torch.arange(args.max_seq_len, dtype=torch.float32, device="cpu")
    freqs = torch.outer(positions, inv_freq)  # [max_seq_len, head_dim / 2]
    angles = torch.cat((freqs, freqs), dim=-1)
    return angles.cos(), torch.cat((-freqs.sin(), freqs.sin()), dim=-1)


def scale_llama3_frequencies(inv_freq: Tensor, scaling: RopeScaling) -> Tensor:
    """Llama-3.1 RoPE: slow down low frequencies by `factor`, blend the middle band."""
    low_freq_wavelen = scaling.original_max_position_embeddings / scaling.low_freq_factor
    high_freq_wavelen = scaling.original_max_position_embeddings / scaling.high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / scaling.factor, inv_freq)
    smooth = (scaling.original_max_position_embeddings / wavelen - scaling.low_freq_factor) / (
        scaling.high_freq_factor - scaling.low_freq_factor
    )
    blended = (1 - smooth) * scaled / scaling.factor + smooth * scaled
    is_medium = (wavelen >= high_freq_wavelen) & (wavelen <= low_freq_wavelen)
    return torch.where(is_medium, blended, scaled)


def apply_rope(x: Tensor, cos: Tensor, signed_sin: Tensor) -> Tensor:
    """x [B, T, heads, head_dim] rotated by cos/signed_sin [B, T, 1, head_dim].

    Equals the reference `x * cos + cat(-x2, x1) * sin` bit for bit, with one op fewer
    (`addcmul` would save another but rounds differently: it may fuse the multiply-add).
    """
    return x * cos + x.roll(x.shape[-1] // 2, dims=-1) * signed_sin


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        dim = x.shape[-1]
        if x.dtype != torch.bfloat16:
            return F.rms_norm(x, (dim,), self.weight, self.eps)
        # LayerNorm over [x, -x] (mean 0, variance mean(x^2)) is RMSNorm. For bf16 on the CPU
        # its kernel gives the same bits as rms_norm's about 2x faster; decoding runs 61 of them
        # per token (bench/model_speed.py --layouts).
        doubled = torch.cat((x, -x), dim=-1)
        out = F.layer_norm(doubled, (2 * dim,), self.doubled_weight(), None, self.eps)
        return out[..., :dim]

    def doubled_weight(self) -> Tensor:
        """[weight, weight]: LayerNorm's weight over [x, -x]."""
        cached: tuple[Tensor, Tensor] | None = self.__dict__.get("_doubled")
        if cached is None or cached[0] is not self.weight:  # weights are assigned after init
            cached = (self.weight, torch.cat((self.weight, self.weight)).detach())
            self.__dict__["_doubled"] = cached
        return cached[1]


class Attention(nn.Module):
    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = args.n_heads, args.n_kv_heads, args.head_dim
        q_size, kv_size = args.n_heads * args.head_dim, args.n_kv_heads * args.head_dim
        self.wqkv = nn.Linear(args.dim, q_size + 2 * kv_size, bias=args.attention_bias)
        self.wo = nn.Linear(q_size, args.dim, bias=False)

    def project(self, x: Tensor, cos: Tensor, sin: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """x [B, T, dim] -> rotated q [B, T, heads, hd] and k, and v [B, T, kv_heads, hd]."""
        bsz, seqlen, _ = x.shape
        heads, kv_heads, head_dim = self.n_heads, self.n_kv_heads, self.head_dim
        qkv: Tensor = self.wqkv(x)  # [B, T, (heads + 2 * kv_heads) * head_dim]
        qk, v = qkv.split_with_sizes([(heads + kv_heads) * head_dim, kv_heads * head_dim], -1)
        # q and k are rotated together: one RoPE pass over heads + kv_heads
        qk = apply_rope(qk.view(bsz, seqlen, heads + kv_heads, head_dim), cos, sin)
        q, k = qk.split_with_sizes([heads, kv_heads], 2)
        return q, k, v.view(bsz, seqlen, kv_heads, head_dim)

    def forward(self, x: Tensor, step: Step, k_cache: Tensor, v_cache: Tensor) -> Tensor:
        # x [B, T, dim]; k_cache/v_cache [B, kv_heads, cache_seq_len, head_dim] (this layer)
        bsz, seqlen, _ = x.shape
        heads, kv_heads, head_dim = self.n_heads, self.n_kv_heads, self.head_dim
        q, k, v = self.project(x, step.cos, step.sin)
        step.store(k_cache, k)
        step.store(v_cache, v)
        keys, values = k_cache[:, :, : step.max_end], v_cache[:, :, : step.max_end]
        if step.per_token_from is not None:
            y = _per_token_attention(q, k_cache, v_cache, step.per_token_from, kv_heads)
        elif seqlen == 1:
            y = decode_attention(q[:, 0], keys, values, step.mask, kv_heads)
        else:
            y = F.scaled_dot_product_attention(
                q.transpose(1, 2),
                keys,
                values,
                attn_mask=step.mask,
                is_causal=step.is_causal,
                enable_gqa=True,
            ).transpose(1, 2)
        out: Tensor = self.wo(y.reshape(bsz, seqlen, heads * head_dim))
        return out


def decode_attention(
    q: Tensor, keys: Tensor, values: Tensor, mask: Tensor | None, kv_heads: int
) -> Tensor:
    """One query token per row: q [B, heads, head_dim] -> [B, kv_heads, group, head_dim].

    A kv head's query heads are adjacent, so they fold into the query length (a free view);
    plain SDPA then beats enable_gqa=True several times on CPU.
    """
    bsz, heads, head_dim = q.shape
    folded = q.view(bsz, kv_heads, heads // kv_heads, head_dim)
    return F.scaled_dot_product_attention(folded, keys, values, attn_mask=mask)


def _per_token_attention(
    q: Tensor, k_cache: Tensor, v_cache: Tensor, start: int, kv_heads: int
) -> Tensor:
    """q [1, T, heads, head_dim] at positions start..start+T-1, each through the decode path
    (`decode_attention` over keys [0, position]), so each token's output is a decode step's."""
    outs = []
    for t in range(q.shape[1]):
        keys, values = k_cache[:, :, : start + t + 1], v_cache[:, :, : start + t + 1]
        outs.append(decode_attention(q[:, t], keys, values, None, kv_heads))
    return torch.stack(outs, dim=1)


class FeedForward(nn.Module):
    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.w13 = nn.Linear(args.dim, 2 * args.hidden_dim, bias=False)  # gate and up, fused
        self.w2 = nn.Linear(args.hidden_dim, args.dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        gate, up = self.w13(x).chunk(2, dim=-1)
        out: Tensor = self.w2(F.silu(gate) * up)
        return out


class TransformerBlock(nn.Module):
    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.attention_norm = RMSNorm(args.dim, args.norm_eps)
        self.attention = Attention(args)
        self.ffn_norm = RMSNorm(args.dim, args.norm_eps)
        self.feed_forward = FeedForward(args)

    def forward(self, x: Tensor, step: Step, k_cache: Tensor, v_cache: Tensor) -> Tensor:
        return self.finish(x, self.attention(self.attention_norm(x), step, k_cache, v_cache))

    def finish(self, x: Tensor, attended: Tensor) -> Tensor:
        """The block after attention: the residual and the MLP (`attended`: after wo)."""
        h = x + attended
        out: Tensor = h + self.feed_forward(self.ffn_norm(h))
        return out


class Transformer(nn.Module):
    rope_cos: Tensor  # [max_seq_len, head_dim], model dtype
    rope_sin: Tensor
    # The blocks in one C++ call for decode steps and one sequence's verifications, when
    # built and checked (`inference.fused.blocks.attach`); None: every forward runs in Python.
    fused: FusedDecode | None = None

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.args = args
        # None when an Int8Table `output` serves as the (tied) embedding too
        # Made with its (empty) weight: nn.Embedding's random init imports torch._dynamo on
        # the meta device (~2 s of a server's start), and `from_state_dict` sets the weight.
        self.tok_embeddings: nn.Embedding | None = nn.Embedding(
            args.vocab_size, args.dim, _weight=torch.empty(args.vocab_size, args.dim)
        )
        self.layers = nn.ModuleList(TransformerBlock(args) for _ in range(args.n_layers))
        self.norm = RMSNorm(args.dim, args.norm_eps)
        self.output: nn.Module | None = None  # None: tied to tok_embeddings
        if not args.tie_embeddings:
            self.output = nn.Linear(args.dim, args.vocab_size, bias=False)
        cos, sin = precompute_rope(args)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    @classmethod
    def from_state_dict(
        cls,
        args: ModelArgs,
        state_dict: Mapping[str, Tensor],
        *,
        dtype: torch.dtype = torch.bfloat16,
        device: torch.device | str = "cpu",
        pack_weights: bool = True,
        quantize: Literal["int4", "int8"] | None = None,
        dense_copies: bool = False,
    ) -> Transformer:
        """Build the model from Hugging Face-named weights; ModelLoadError if any is wrong.

        `pack_weights` pre-packs the matmul weights for oneDNN where that pays (`can_pack`).
        `quantize="int4"` (CPU, bf16 only) stores the blocks' matmul weights as `Int4Linear`:
        about 1.6x faster decoding, and close to lossless for weights from a Q4_1 GGUF;
        `quantize="int8"` as `Int8Linear` (per-row int8). Either way the lm_head is int8.
        `dense_copies` (with `quantize`) also keeps each quantized weight dequantized to bf16,
        for matmuls of `DENSE_ROWS` rows or more: 2-3x faster prefill and batched decoding,
        for 2 bytes per weight more (`inference.model.linears.DenseCopy`).
        """
        device = torch.device(device)
        if quantize is not None and not can_pack(dtype, device):
            raise ValueError(
                f"{quantize} weights need dtype=torch.bfloat16 on a CPU with oneDNN bf16"
            )
        check_weights(args, state_dict, "model weights")
        packed = quantize is not None or (pack_weights and can_pack(dtype, device))
        linear: Callable[[Tensor, Tensor | None], nn.Module] = PackedLinear
        if quantize is not None:
            quantized = Int4Linear if quantize == "int4" else Int8Linear
            linear = partial(quantized, dense_copy=dense_copies)
        # Quantizing from the float32 values gives a Q4 file's own 4-bit values back.
        matmul_dtype = torch.float32 if quantize else dtype
        with torch.device("meta"):
            model = cls(args)
        # One block at a time: its weights are read, fused and packed before the next
        # block's are read, so a load never holds a second copy of the whole model.
        for i, layer in enumerate(model.layers):
            block = fuse_block(args, state_dict, i, dtype, matmul_dtype, device)
            layer.load_state_dict(block, strict=True, assign=True)
            del block
            if packed:
                pack_block(layer, linear)
            trim_heap()
        get = partial(read_weight, state_dict, dtype=dtype, device=device)
        model.norm.weight = nn.Parameter(get("model.norm.weight"), False)
        if quantize and args.tie_embeddings:
            # One int8 table, quantized from float32, is both the lm_head and the embedding.
            embedding = read_weight(
                state_dict, "model.embed_tokens.weight", dtype=torch.float32, device=device
            )
            model.output = Int8Table(embedding, dtype, dense_copy=dense_copies)
            model.tok_embeddings = None
            del embedding
        else:
            embedding = nn.Parameter(get("model.embed_tokens.weight"), requires_grad=False)
            assert model.tok_embeddings is not None
            model.tok_embeddings.weight = embedding
            if packed and args.tie_embeddings:
                # A tied lm_head gets a packed copy (vocab x dim more); the embedding stays.
                model.output = PackedLinear(embedding.detach(), None)
        if not args.tie_embeddings:
            head = get("lm_head.weight")
            if quantize:
                model.output = Int8Table(head, dtype, dense_copy=dense_copies)
            elif packed:
                model.output = PackedLinear(head, None)
            else:
                assert isinstance(model.output, nn.Linear)
                model.output.weight = nn.Parameter(head, requires_grad=False)
        model.rope_cos = model.rope_cos.to(device=device, dtype=dtype)  # made in __init__
        model.rope_sin = model.rope_sin.to(device=device, dtype=dtype)
        trim_heap()
        return model.eval()

    @property
    def dtype(self) -> torch.dtype:
        return self.norm.weight.dtype

    def embed(self, tokens: Tensor) -> Tensor:
        if self.tok_embeddings is None:
            assert isinstance(self.output, Int8Table)
            return self.output.embed(tokens)
        out: Tensor = self.tok_embeddings(tokens)
        return out

    def forward(
        self,
        tokens: Tensor,
        start_pos: Tensor,
        cache: KVCache,
        first_slot: int = 0,
        *,
        last_only: bool = True,
        per_token: bool = False,
    ) -> Tensor:
        """Logits, float32: [B, vocab] for each row's last token, or [B, T, vocab].

        tokens [B, T]; start_pos [B] (CPU) says how many tokens row b has cached already. Row b
        uses cache slot first_slot + b, writes positions start_pos[b] .. start_pos[b] + T - 1
        and attends causally to everything before them in its slot. `per_token` (one row):
        attention runs token by token as decoding would (speculative verification).
        """
        with torch.inference_mode():
            step = self.plan_step(tokens.shape, start_pos, cache, first_slot, per_token=per_token)
            x = self.embed(tokens)  # [B, T, dim]
            k_all, v_all = cache.k[:, step.slots], cache.v[:, step.slots]  # [L, B, kv, S, hd]
            if self.fused is not None and self.fused.serves(x, step):
                x = self.fused(x, k_all, v_all, step)
            else:
                for i, layer in enumerate(self.layers):
                    x = layer(x, step, k_all[i], v_all[i])
            if last_only:
                x = x[:, -1]  # [B, dim]
            return self.lm_head(self.norm(x)).float()

    def lm_head(self, x: Tensor) -> Tensor:
        if self.output is None:
            assert self.tok_embeddings is not None
            return F.linear(x, self.tok_embeddings.weight)
        logits: Tensor = self.output(x)
        return logits

    def plan_step(
        self,
        shape: torch.Size,
        start_pos: Tensor,
        cache: KVCache,
        first_slot: int,
        *,
        per_token: bool = False,
    ) -> Step:
        """Cache indices, RoPE angles and attention mask shared by every layer of one forward."""
        bsz, seqlen = shape
        if per_token and bsz != 1:
            raise ValueError("per-token attention verifies one sequence at a time")
        starts: list[int] = start_pos.tolist()
        check_fits(starts, seqlen, first_slot, cache, self.dtype)
        max_end = max(starts) + seqlen
        slots = slice(first_slot, first_slot + bsz)
        device = self.rope_cos.device
        rows: Tensor | None = None
        where: Tensor | slice
        if bsz == 1:
            start = starts[0]
            cos = self.rope_cos[start : start + seqlen].view(1, seqlen, 1, -1)
            sin = self.rope_sin[start : start + seqlen].view(1, seqlen, 1, -1)
            where = slice(start, max_end)
            if per_token:
                return Step(slots, max_end, cos, sin, rows, where, None, False, start)
            if seqlen == 1 or start == 0:
                return Step(slots, max_end, cos, sin, rows, where, None, is_causal=seqlen > 1)
        positions = start_pos.to(device)[:, None] + torch.arange(seqlen, device=device)  # [B, T]
        if bsz > 1:
            cos, sin = self.rope_cos[positions].unsqueeze(2), self.rope_sin[positions].unsqueeze(2)
            rows, where = torch.arange(bsz, device=device)[:, None], positions
            if seqlen == 1 and min(starts) == max(starts):
                return Step(slots, max_end, cos, sin, rows, where, None, is_causal=False)
        key_positions = torch.arange(max_end, device=device)
        mask = key_positions <= positions[:, :, None]  # [B, T, max_end]
        return Step(slots, max_end, cos, sin, rows, where, mask.unsqueeze(1), is_causal=False)


def check_fits(
    starts: list[int], seqlen: int, first_slot: int, cache: KVCache, dtype: torch.dtype
) -> None:
    """Raise ValueError when a forward would write outside the cache or in the wrong dtype."""
    if cache.dtype != dtype:
        raise ValueError(f"KV cache is {cache.dtype} but the model runs in {dtype}")
    if first_slot < 0 or first_slot + len(starts) > cache.max_batch:
        raise ValueError(
            f"slots {first_slot}..{first_slot + len(starts) - 1} outside the cache's "
            f"{cache.max_batch}"
        )
    if min(starts) < 0 or max(starts) + seqlen > cache.max_seq_len:
        raise ValueError(
            f"positions up to {max(starts) + seqlen} exceed the cache length {cache.max_seq_len}"
        )


def read_weight(
    state_dict: Mapping[str, Tensor], name: str, *, dtype: torch.dtype, device: torch.device
) -> Tensor:
    """One source tensor, read (a lazy mapping reads it from the file now) and converted."""
    return read_as(state_dict, name, dtype).to(device)


def fuse_block(
    args: ModelArgs,
    state_dict: Mapping[str, Tensor],
    i: int,
    dtype: torch.dtype,
    matmul_dtype: torch.dtype,
    device: torch.device,
) -> dict[str, Tensor]:
    """Block i's HF weights under this module's names, q/k/v and gate/up concatenated."""
    src = f"model.layers.{i}."
    get = partial(read_weight, state_dict, dtype=matmul_dtype, device=device)
    plain = partial(read_weight, state_dict, dtype=dtype, device=device)  # norms, biases
    qkv = [src + f"self_attn.{n}_proj." for n in "qkv"]
    out = {
        "attention.wqkv.weight": torch.cat([get(p + "weight") for p in qkv]),
        "attention.wo.weight": get(src + "self_attn.o_proj.weight"),
        "attention_norm.weight": plain(src + "input_layernorm.weight"),
        "ffn_norm.weight": plain(src + "post_attention_layernorm.weight"),
        "feed_forward.w13.weight": torch.cat(
            [get(src + f"mlp.{n}_proj.weight") for n in ("gate", "up")]
        ),
        "feed_forward.w2.weight": get(src + "mlp.down_proj.weight"),
    }
    if args.attention_bias:
        out["attention.wqkv.bias"] = torch.cat([plain(p + "bias") for p in qkv])
    return out


def pack_block(block: nn.Module, linear: Callable[[Tensor, Tensor | None], nn.Module]) -> None:
    """Swap a block's nn.Linear layers for `linear(weight, bias)` (PackedLinear, Int4Linear
    or Int8Linear)."""
    # Only parents are listed, so each replaced nn.Linear (and its weight) is freed at once.
    parents = [m for m in block.modules() if not isinstance(m, nn.Linear)]
    for module in parents:
        for name, child in list(module.named_children()):
            if isinstance(child, nn.Linear):
                setattr(module, name, linear(child.weight.detach(), child.bias))

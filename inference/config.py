"""Model and engine configuration: one slotted dataclass each, validated when built.

`ModelArgs` describes a Llama-family decoder (Llama, Mistral, Qwen2) whatever file it came
from; loaders fill it from GGUF metadata or a Hugging Face config.json.
"""

from __future__ import annotations

from dataclasses import dataclass

from inference.errors import ModelLoadError

ARCHITECTURES = ("llama", "mistral", "qwen2")
WEIGHTS = ("auto", "dense", "int4", "int8")


@dataclass(frozen=True, slots=True)
class RopeScaling:
    """Llama-3 style RoPE frequency scaling (rope_type "llama3")."""

    factor: float
    low_freq_factor: float
    high_freq_factor: float
    original_max_position_embeddings: int


@dataclass(frozen=True, slots=True)
class ModelArgs:
    """Shapes and constants of a decoder-only transformer (Hugging Face names in comments)."""

    arch: str  # one of ARCHITECTURES
    vocab_size: int
    dim: int  # hidden_size
    n_layers: int  # num_hidden_layers
    n_heads: int  # num_attention_heads
    n_kv_heads: int  # num_key_value_heads (grouped-query attention when < n_heads)
    hidden_dim: int  # intermediate_size (SwiGLU)
    head_dim: int
    norm_eps: float  # rms_norm_eps
    rope_theta: float
    max_seq_len: int  # max_position_embeddings / context_length
    tie_embeddings: bool  # lm_head shares embed_tokens
    attention_bias: bool = False  # Qwen2: q/k/v projections have biases
    rope_scaling: RopeScaling | None = None

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            runs = ", ".join(ARCHITECTURES)
            raise ModelLoadError(f"unsupported architecture {self.arch!r}: schedsight runs {runs}")
        if self.n_heads % self.n_kv_heads:
            raise ModelLoadError(
                f"{self.n_heads} attention heads cannot share {self.n_kv_heads} KV heads evenly"
            )
        for name in ("vocab_size", "dim", "n_layers", "n_heads", "hidden_dim", "head_dim"):
            if getattr(self, name) <= 0:
                raise ModelLoadError(f"model config: {name} must be positive")


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """How the engine batches and caches; defaults serve the embedded model in ~1.3 GB."""

    max_batch: int = 32  # sequences decoded together
    max_seq_len: int = 4096  # per sequence (capped by the model's context)
    prefill_chunk: int = 256  # prompt tokens per step, so decoding never stalls for long
    max_waiting: int = 64  # queued requests beyond this are refused (HTTP 429)
    prefix_slots: int = 4  # cache slots that keep recent prompts for prefix reuse
    min_prefix: int = 32  # shortest shared prefix worth reusing (tokens)
    # or "float32", or "auto": bfloat16 where it runs natively (CUDA with bf16, a CPU with
    # oneDNN bf16 kernels), else float32 (an AVX2-only CPU emulates bf16 matmuls, 2-4x slower)
    dtype: str = "bfloat16"
    device: str = "cpu"  # "cpu", "cuda" or "auto"
    # Matmul weights of the blocks: "int4" (CPU, bf16: blocks in 4 bits, lm_head/embedding in
    # int8; a GGUF's own 4-bit values come back exactly, decoding one sequence is ~1.5x
    # faster), "int8" (CPU, bf16: blocks and lm_head in per-row int8, closer to the float
    # weights), "dense" (in `dtype`), or "auto": int4 when the file is 4-bit and the CPU
    # runs bf16, else dense.
    weights: str = "auto"
    # With int4/int8 weights, also keep them dequantized to bf16 for prefill chunks and
    # batched decoding (8+ rows per matmul), which oneDNN's bf16 kernels run 2-3x faster
    # than the quantized ones; one sequence's decoding keeps the quantized kernels. About
    # 270 MB more for the embedded model.
    dense_copies: bool = True
    threads: int = 0  # CPU threads for the model; 0: torch's default (one per core)
    # Prompt-lookup speculative decoding for greedy requests (inference/engine/speculation.py):
    # draft tokens verified per step at most; 0 turns it off. The engine drafts only at widths it
    # found, at start-up, to reproduce decoding bit for bit, so greedy output is unchanged.
    draft_tokens: int = 6
    # Decode steps and one sequence's verifications through the blocks as one C++ call
    # (inference/fused/: the same operators, the same bits; one sequence 1.2-1.7x faster
    # on 2 cores), with int4/int8 weights on a CPU. Built by `make install`; else compiled
    # in the background at start-up while decoding runs in Python.
    fused: bool = True

    def __post_init__(self) -> None:
        if self.threads < 0:
            raise ValueError("engine config: threads must be >= 0 (0: one per core)")
        if self.draft_tokens < 0:
            raise ValueError("engine config: draft_tokens must be >= 0 (0: no speculation)")
        for name in ("max_batch", "max_seq_len", "prefill_chunk", "max_waiting", "min_prefix"):
            if getattr(self, name) < 1:
                raise ValueError(f"engine config: {name} must be at least 1")
        if self.prefix_slots < 0:
            raise ValueError("engine config: prefix_slots must be >= 0")
        if self.dtype not in ("bfloat16", "float32", "auto"):
            raise ValueError(
                f"engine config: dtype must be bfloat16, float32 or auto, not {self.dtype}"
            )
        if self.weights not in WEIGHTS:
            raise ValueError(
                f"engine config: weights must be one of {', '.join(WEIGHTS)}, not {self.weights}"
            )
        if self.device not in ("cpu", "cuda", "auto"):
            raise ValueError(f"engine config: device must be cpu, cuda or auto, not {self.device}")

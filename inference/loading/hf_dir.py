"""Reading a Hugging Face model directory: config.json → `ModelArgs`, *.safetensors (one file or
sharded) → lazily read float32 weights, tokenizer.json → `Tokenizer`, and the chat template.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open

from inference.config import ModelArgs, RopeScaling
from inference.errors import ModelLoadError, UnsupportedError
from inference.loading.loaded_model import LoadedModel
from inference.loading.tokenizer import Tokenizer
from inference.loading.weights import LazyWeights

_FLOAT_DTYPES = frozenset({"F64", "F32", "F16", "BF16"})
_ARCHITECTURES = {
    "LlamaForCausalLM": "llama",
    "MistralForCausalLM": "mistral",
    "Qwen2ForCausalLM": "qwen2",
}


def load_hf_dir(directory: Path) -> LoadedModel:
    """Load config.json, the safetensors weights and tokenizer.json from `directory`."""
    config = _read_json(directory / "config.json", required=True)
    args = model_args(config, directory)
    weights = lazy_safetensors(safetensors_files(directory), args.tie_embeddings)
    return LoadedModel(
        name=directory.name,
        args=args,
        state_dict=weights,
        weight_type=weights.dtype_name("model.layers.0.mlp.down_proj.weight"),
        tokenizer=Tokenizer.from_hf_dir(directory),
        chat_template=chat_template(directory),
        source=str(directory),
    )


def model_args(config: Mapping[str, Any], where: Path) -> ModelArgs:
    """`ModelArgs` from a transformers config.json (Llama, Mistral or Qwen2)."""
    names = config.get("architectures") or []
    arch = next((_ARCHITECTURES[n] for n in names if n in _ARCHITECTURES), None)
    if arch is None:
        raise UnsupportedError(
            f"{where}: architecture {names} is not supported; schedsight runs "
            f"{', '.join(_ARCHITECTURES)}"
        )
    if config.get("mlp_bias") or (arch != "qwen2" and config.get("attention_bias")):
        raise UnsupportedError(f"{where}: biases on o_proj or the MLP are not supported")

    def need(key: str) -> Any:
        if config.get(key) is None:
            raise ModelLoadError(f"{where}/config.json lacks {key!r}")
        return config[key]

    dim, n_heads = int(need("hidden_size")), int(need("num_attention_heads"))
    rope = config.get("rope_scaling") or config.get("rope_parameters") or {}
    return ModelArgs(
        arch=arch,
        vocab_size=int(need("vocab_size")),
        dim=dim,
        n_layers=int(need("num_hidden_layers")),
        n_heads=n_heads,
        n_kv_heads=int(config.get("num_key_value_heads") or n_heads),
        hidden_dim=int(need("intermediate_size")),
        head_dim=int(config.get("head_dim") or dim // n_heads),
        norm_eps=float(config.get("rms_norm_eps", 1e-6)),
        rope_theta=float(config.get("rope_theta") or rope.get("rope_theta") or 10000.0),
        max_seq_len=int(need("max_position_embeddings")),
        tie_embeddings=bool(config.get("tie_word_embeddings", False)),
        attention_bias=arch == "qwen2",
        rope_scaling=_rope_scaling(rope, where),
    )


def _rope_scaling(rope: Mapping[str, Any], where: Path) -> RopeScaling | None:
    kind = rope.get("rope_type") or rope.get("type")
    if kind in (None, "default"):
        return None
    if kind != "llama3":
        raise UnsupportedError(f"{where}: RoPE scaling {kind!r} is not supported (llama3 is)")
    return RopeScaling(
        factor=float(rope["factor"]),
        low_freq_factor=float(rope["low_freq_factor"]),
        high_freq_factor=float(rope["high_freq_factor"]),
        original_max_position_embeddings=int(rope["original_max_position_embeddings"]),
    )


def safetensors_files(directory: Path) -> list[Path]:
    """The weight files: the shards an index names, else model.safetensors, else *.safetensors."""
    index = directory / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(_read_json(index).get("weight_map", {}).values()))
        files = [directory / s for s in shards]
    elif (directory / "model.safetensors").is_file():
        files = [directory / "model.safetensors"]
    else:
        files = sorted(directory.glob("*.safetensors"))
    if not files:
        raise ModelLoadError(
            f"{directory}: no *.safetensors weights (PyTorch .bin checkpoints are not read; "
            "convert them with transformers' save_pretrained(safe_serialization=True))"
        )
    for path in files:
        if not path.is_file():
            raise ModelLoadError(f"{path}: weight shard named in the index is missing")
    return files


def lazy_safetensors(files: list[Path], tie_embeddings: bool) -> LazyWeights:
    """The weights of all shards, each read (as float32, or `read_as` a dtype) when looked up."""
    where: dict[str, Path] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    dtypes: dict[str, str] = {}
    for path in files:
        try:
            with safe_open(path, framework="pt") as f:
                for name in f.keys():  # noqa: SIM118 (safe_open is not a mapping)
                    if name.endswith("rotary_emb.inv_freq"):
                        continue  # old checkpoints; the engine computes its own
                    if tie_embeddings and name == "lm_head.weight":
                        continue
                    info = f.get_slice(name)
                    if info.get_dtype() not in _FLOAT_DTYPES:
                        raise UnsupportedError(
                            f"{path}: tensor {name} is {info.get_dtype()}; expected F32/F16/BF16"
                        )
                    where[name] = path
                    dtypes[name] = info.get_dtype()
                    shapes[name] = tuple(info.get_shape())
        except (SafetensorError, OSError) as exc:
            raise ModelLoadError(f"{path}: not a readable safetensors file ({exc})") from exc

    def read(name: str, dtype: torch.dtype) -> torch.Tensor:
        with safe_open(where[name], framework="pt") as f:
            tensor: torch.Tensor = f.get_tensor(name)
        if not tensor.is_floating_point():
            raise UnsupportedError(
                f"{where[name]}: tensor {name} is {tensor.dtype}; expected floats"
            )
        return tensor.to(dtype)

    return LazyWeights(shapes, read, dtypes)


def chat_template(directory: Path) -> str | None:
    """The Jinja chat template: chat_template.jinja, else tokenizer_config.json's entry."""
    jinja = directory / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    template = _read_json(directory / "tokenizer_config.json").get("chat_template")
    if isinstance(template, list):  # named templates: [{"name": "default", "template": ...}]
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default")
    return template if isinstance(template, str) else None


def _read_json(path: Path, *, required: bool = False) -> dict[str, Any]:
    if not path.is_file():
        if required:
            raise ModelLoadError(f"{path}: not found; is this a Hugging Face model directory?")
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{path}: cannot read JSON ({exc})") from exc
    return data if isinstance(data, dict) else {}

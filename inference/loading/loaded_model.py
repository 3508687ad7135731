"""`LoadedModel`: everything a model file brings (args, weights, tokenizer, chat template), as
the file readers (`gguf_file`, `hf_dir`) return it and the engine takes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from inference.config import ModelArgs
from inference.loading.tokenizer import Tokenizer

FOUR_BIT_TYPES = frozenset({"Q2_K", "Q3_K", "Q4_0", "Q4_1", "Q4_K"})


@dataclass
class LoadedModel:
    """Everything the engine needs from a model file.

    `state_dict` yields float32 CPU tensors under Hugging Face names (no lm_head when
    tie_embeddings); loaders read them from the file on access (`inference.loading.weights`).
    """

    name: str  # file stem or directory name; what /v1/models reports
    args: ModelArgs
    state_dict: Mapping[str, torch.Tensor] = field(repr=False)
    tokenizer: Tokenizer
    chat_template: str | None  # Jinja source; None → ChatML
    source: str  # the path it came from
    # How the file stores the blocks' matmul weights: a GGUF type ("Q4_1", "Q8_0", "F16" ...)
    # or a safetensors dtype ("BF16", "F32" ...); the most common one when they are mixed.
    weight_type: str = "F32"

    @property
    def four_bit(self) -> bool:
        """Whether the file already holds the blocks' weights in (at most) 4 bits."""
        return self.weight_type in FOUR_BIT_TYPES

    def release_weights(self) -> None:
        """Drop the weights (and the open file behind them) once a model has been built."""
        self.state_dict = {}

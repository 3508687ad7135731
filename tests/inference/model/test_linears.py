"""Dense copies of quantized layers: the same weights, used only from `DENSE_ROWS` rows on.

Below that many rows the quantized kernel runs alone (so decoding and speculative
verification keep their numbers bit for bit); from it on, the bf16 copy runs and gives the
quantized layer's values within bf16 rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from inference.config import ModelArgs
from inference.model.kv_cache import KVCache
from inference.model.linears import DENSE_ROWS, Int4Linear, Int8Linear, Int8Table, can_pack
from inference.model.transformer import Transformer
from tests.inference.tiny_model import random_weights, tiny_args

pytestmark = pytest.mark.skipif(
    not can_pack(torch.bfloat16, torch.device("cpu")),
    reason="quantized weights need a CPU with oneDNN bf16 support",
)

Layer = Callable[[torch.Tensor, bool], nn.Module]
LAYERS: dict[str, Layer] = {
    "int4": lambda w, dense: Int4Linear(w, None, dense_copy=dense),
    "int8": lambda w, dense: Int8Linear(w, None, dense_copy=dense),
    "int8 table": lambda w, dense: Int8Table(w, torch.bfloat16, dense_copy=dense),
}


def weight(seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(96, 128, generator=gen) * torch.rand(96, 1, generator=gen)


@pytest.mark.parametrize("kind", LAYERS)
def test_fewer_rows_than_dense_rows_run_the_quantized_kernel_unchanged(kind: str) -> None:
    w = weight()
    plain, copied = LAYERS[kind](w, False), LAYERS[kind](w, True)
    for rows in range(1, DENSE_ROWS):
        x = torch.randn(rows, 128, generator=torch.Generator().manual_seed(rows)).bfloat16()
        assert torch.equal(copied(x), plain(x)), f"{rows} rows"


@pytest.mark.parametrize("kind", LAYERS)
def test_the_dense_copy_holds_the_quantized_weights(kind: str) -> None:
    w = weight(1)
    eye = torch.eye(128).bfloat16()  # 128 rows: the copy's path; multiplying reads it back
    quantized, copied = LAYERS[kind](w, False)(eye).float(), LAYERS[kind](w, True)(eye).float()
    # Equal up to one bf16 rounding of each weight (8 mantissa bits: 2**-8 relative).
    torch.testing.assert_close(copied, quantized, rtol=2**-7, atol=1e-6)
    assert not torch.equal(copied, w.T), "the copy must be of the quantized values, not of w"


@pytest.mark.parametrize("kind", LAYERS)
def test_batched_rows_agree_with_the_quantized_kernel(kind: str) -> None:
    w = weight(2)
    x = torch.randn(3, 12, 128, generator=torch.Generator().manual_seed(3)).bfloat16()
    quantized, copied = LAYERS[kind](w, False)(x).float(), LAYERS[kind](w, True)(x).float()
    assert copied.shape == (3, 12, 96)
    assert (copied - quantized).norm() / quantized.norm() < 5e-3


def test_a_model_with_dense_copies_decodes_as_without() -> None:
    args: ModelArgs = tiny_args()
    weights = random_weights(args)
    models = [
        Transformer.from_state_dict(args, weights, quantize="int4", dense_copies=dense)
        for dense in (False, True)
    ]
    prompt = torch.randint(0, args.vocab_size, (1, 24), generator=torch.Generator().manual_seed(4))
    outs = []
    for model in models:
        cache = KVCache(args, 1, 64, dtype=torch.bfloat16)
        prefill = model(prompt, torch.tensor([0]), cache)  # 24 rows: the copy, when there is one
        step = model(prefill.argmax(-1, keepdim=True), torch.tensor([24]), cache)  # one row
        outs.append((prefill, step))
    (p0, s0), (p1, s1) = outs
    assert (p1 - p0).abs().max() < 0.05 * p0.abs().max()
    assert torch.equal(p1.argmax(-1), p0.argmax(-1))
    assert (s1 - s0).abs().max() < 0.05 * s0.abs().max()  # the cache was written by the copy

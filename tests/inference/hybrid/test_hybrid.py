"""The hybrid CPU-GPU runtime on the CPU: both sides are the CPU here, so each mode must
decode exactly as the plain model's batched decode does, for any split of the streams."""

from __future__ import annotations

import pytest
import torch

from inference.hybrid.decoder import HybridDecoder
from inference.hybrid.placement import Mode
from inference.model.kv_cache import KVCache
from inference.model.transformer import Transformer
from tests.inference.tiny_model import random_weights, tiny_args

PROMPTS = [[5, 17, 3, 9, 41], [8, 2], [60, 61, 62, 63, 64, 65, 66, 67], [11, 12, 13], [90]]
STEPS = 12


@pytest.fixture(scope="module")
def model() -> Transformer:
    args = tiny_args()
    return Transformer.from_state_dict(args, random_weights(args), dtype=torch.float32)


def plain_decode(model: Transformer) -> tuple[list[list[int]], list[torch.Tensor]]:
    """Greedy tokens and per-step logits of the model's own batched decode of PROMPTS."""
    device = model.rope_cos.device
    cache = KVCache(model.args, len(PROMPTS), 64, dtype=model.dtype, device=device)
    last = []
    for slot, prompt in enumerate(PROMPTS):
        ids = torch.tensor([prompt], device=device)
        logits = model(ids, torch.tensor([0]), cache, first_slot=slot)
        last.append(int(logits[0].argmax()))
    tokens, steps = [[t] for t in last], []
    lengths = [len(p) for p in PROMPTS]
    for _ in range(STEPS):
        ids = torch.tensor(last, device=device).view(-1, 1)
        logits = model(ids, torch.tensor(lengths), cache)
        steps.append(logits)
        last = logits.argmax(-1).tolist()
        lengths = [n + 1 for n in lengths]
        for row, t in zip(tokens, last, strict=True):
            row.append(t)
    return tokens, steps


def hybrid_decode(
    decoder: HybridDecoder,
) -> tuple[list[list[int]], list[torch.Tensor]]:
    last = [int(decoder.prefill(i, p).argmax()) for i, p in enumerate(PROMPTS)]
    tokens, steps = [[t] for t in last], []
    for _ in range(STEPS):
        logits = decoder.step(last)
        steps.append(logits)
        last = logits.argmax(-1).tolist()
        for row, t in zip(tokens, last, strict=True):
            row.append(t)
    return tokens, steps


@pytest.mark.parametrize("mode", [Mode.HYBRID, Mode.HOST_OFFLOAD])
@pytest.mark.parametrize("resident", [0, 2, 5])
def test_every_split_decodes_like_the_plain_batched_model(
    model: Transformer, mode: Mode, resident: int
) -> None:
    check_split(model, mode, resident)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("mode", [Mode.HYBRID, Mode.HOST_OFFLOAD])
def test_on_a_gpu_the_offloaded_streams_decode_like_resident_ones(mode: Mode) -> None:
    args = tiny_args()
    on_gpu = Transformer.from_state_dict(args, random_weights(args), dtype=torch.float32,
                                         device="cuda")  # fmt: skip
    check_split(on_gpu, mode, resident=2)


def check_split(model: Transformer, mode: Mode, resident: int) -> None:
    want_tokens, want_logits = plain_decode(model)
    decoder = HybridDecoder(
        model, resident=resident, offloaded=len(PROMPTS) - resident, max_seq_len=64, mode=mode
    )
    tokens, logits = hybrid_decode(decoder)
    assert tokens == want_tokens
    for got, want in zip(logits, want_logits, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    assert decoder.lengths == [len(p) + STEPS for p in PROMPTS]


def test_host_offload_writes_new_tokens_back_to_the_host_cache(model: Transformer) -> None:
    decoder = HybridDecoder(model, resident=1, offloaded=1, max_seq_len=16,
                            mode=Mode.HOST_OFFLOAD)  # fmt: skip
    decoder.prefill(0, [1, 2, 3])
    decoder.prefill(1, [4, 5])
    before = decoder.host_k[:, 2, 0].clone()  # position 2 of the offloaded stream: empty
    decoder.step([7, 8])
    assert before.abs().sum() == 0 and decoder.host_k[:, 2, 0].abs().sum() > 0
    assert decoder.host_k[:, 3, 0].abs().sum() == 0  # nothing written past it


def test_bad_use_is_refused_with_a_reason(model: Transformer) -> None:
    with pytest.raises(ValueError, match="at least one stream"):
        HybridDecoder(model, resident=0, offloaded=0, max_seq_len=16)
    with pytest.raises(ValueError, match="not gpu"):
        HybridDecoder(model, resident=1, offloaded=0, max_seq_len=16, mode=Mode.GPU)
    decoder = HybridDecoder(model, resident=1, offloaded=1, max_seq_len=8)
    with pytest.raises(ValueError, match="one token per stream"):
        decoder.step([1])
    with pytest.raises(ValueError, match="does not fit 8 positions"):
        decoder.prefill(0, list(range(8)))
    with pytest.raises(IndexError, match="stream 2"):
        decoder.prefill(2, [1])
    decoder.prefill(0, list(range(7)))
    decoder.step([1, 2])
    with pytest.raises(ValueError, match="would pass its 8"):
        decoder.step([1, 2])

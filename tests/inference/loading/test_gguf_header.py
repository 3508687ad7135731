"""The GGUF header read in one pass: the same metadata and tensors as `gguf.GGUFReader` on the
embedded model and on files written here (every value type, both byte orders), the same
dequantized bits as `gguf.quants`, and clear errors for files that are not GGUF.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q

from inference.errors import ModelLoadError
from inference.loading.gguf_file import dequantize
from inference.loading.gguf_header import read_header
from inference.loading.loader import default_model_path


def reader_metadata(path: Path) -> dict[str, Any]:
    reader = gguf.GGUFReader(path)
    return {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}


def assert_same_as_reader(path: Path) -> None:
    header = read_header(path)
    expected = reader_metadata(path)
    assert header.metadata == expected
    for key, value in expected.items():  # 1 == 1.0 == True: the types must match too
        assert type(header.metadata[key]) is type(value), key
        if isinstance(value, list):
            assert [type(v) for v in header.metadata[key]] == [type(v) for v in value], key
    reader = gguf.GGUFReader(path)
    assert [t.name for t in header.tensors] == [t.name for t in reader.tensors]
    for ours, theirs in zip(header.tensors, reader.tensors, strict=True):
        assert ours.tensor_type == theirs.tensor_type
        assert ours.shape == tuple(theirs.shape.tolist())
        assert ours.data.dtype == theirs.data.dtype and ours.data.shape == theirs.data.shape
        assert np.array_equal(ours.data, theirs.data), ours.name


def test_embedded_model_header_matches_gguf_reader() -> None:
    try:
        path = default_model_path()
    except ModelLoadError as exc:
        pytest.skip(str(exc))
    assert_same_as_reader(path)


def test_embedded_model_dequantizes_to_the_same_bits_as_gguf_quants() -> None:
    try:
        path = default_model_path()
    except ModelLoadError as exc:
        pytest.skip(str(exc))
    kinds = set()
    for tensor in read_header(path).tensors:
        if tensor.name.startswith(("blk.0.", "blk.29.", "token_embd")):
            ours = dequantize(tensor.data, tensor.tensor_type)
            theirs = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
            assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
            assert np.array_equal(ours, theirs), tensor.name
            kinds.add(tensor.tensor_type)
    assert kinds == {Q.Q4_1, Q.Q8_0, Q.F32}


def write_every_type(path: Path, endianess: gguf.GGUFEndian) -> None:
    w = gguf.GGUFWriter(path, "llama", endianess=endianess)
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4_000_000_000)
    w.add_int32("t.i32", -2_000_000_000)
    w.add_float32("t.f32", 0.1)
    w.add_uint64("t.u64", 2**63 + 5)
    w.add_int64("t.i64", -(2**62))
    w.add_float64("t.f64", 0.1)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "Ångström 你好 🤖")
    w.add_array("t.ints", [1, -2, 3])
    w.add_array("t.floats", [0.5, 1.25])
    w.add_array("t.strs", ["a", "", "ü"])
    w.add_array("t.empty", [])
    w.add_uint32("general.alignment", 64)
    rng = np.random.default_rng(0)
    w.add_tensor("a", rng.standard_normal((3, 64), dtype=np.float32), raw_dtype=Q.F32)
    w.add_tensor("b", rng.standard_normal((2, 32)).astype(np.float16), raw_dtype=Q.F16)
    values = rng.standard_normal((4, 64), dtype=np.float32)
    for kind in (Q.Q4_0, Q.Q8_0):
        w.add_tensor(f"q.{kind.name}", gguf.quants.quantize(values, kind), raw_dtype=kind)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.mark.parametrize("endianess", [gguf.GGUFEndian.LITTLE, gguf.GGUFEndian.BIG])
def test_every_value_type_reads_as_gguf_reader_reads_it(
    tmp_path: Path, endianess: gguf.GGUFEndian
) -> None:
    path = tmp_path / "types.gguf"
    write_every_type(path, endianess)
    assert_same_as_reader(path)
    header = read_header(path)
    assert header.metadata["t.strs"] == ["a", "", "ü"]
    assert header.metadata["t.u64"] == 2**63 + 5
    by_name = {t.name: t for t in header.tensors}
    assert by_name["a"].shape == (64, 3) and by_name["a"].data.shape == (3, 64)


def test_not_a_gguf_file_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    with pytest.raises(ModelLoadError, match="not a readable GGUF file"):
        read_header(empty)
    other = tmp_path / "other.gguf"
    other.write_bytes(b"NOPE" + bytes(64))
    with pytest.raises(ModelLoadError, match="magic"):
        read_header(other)


def test_a_truncated_header_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "types.gguf"
    write_every_type(path, gguf.GGUFEndian.LITTLE)
    whole = path.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(whole[:200])
    with pytest.raises(ModelLoadError, match=str(cut)):
        read_header(cut)


def test_bad_utf8_in_a_string_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "types.gguf"
    write_every_type(path, gguf.GGUFEndian.LITTLE)
    data = path.read_bytes().replace("Ångström".encode(), b"\xff" * len("Ångström".encode()))
    path.write_bytes(data)
    with pytest.raises(ModelLoadError, match="not valid UTF-8"):
        read_header(path)

"""A GGUF file's header read in one pass: the metadata as plain Python values, and each
tensor's name, type, shape and data (a read-only view of the file, nothing copied).

`gguf.GGUFReader` reads the same header through one numpy memmap slice per value: a model
with a 49,152-token vocabulary and as many merges holds ~150,000 of them, and the reader
took 3-6 s of a server's start on 2 cores. Here the header is parsed from the mapped bytes
with `struct`, and numeric arrays come in one `numpy.frombuffer` each (~0.2 s); the values
are those `ReaderField.contents()` gives (tests/inference/loading/test_gguf_header.py checks
both readers agree on the embedded model). Layout (GGUF v2 and v3, either byte order):
magic, version, tensor count, key/value count, the key/value pairs, the tensor infos, then
the tensor data from the next multiple of `general.alignment` (32 if absent).
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFValueType

from inference.errors import ModelLoadError

MAGIC = b"GGUF"
VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
# Scalar value types: struct format (without byte order) and numpy dtype.
_SCALARS: dict[GGUFValueType, tuple[str, str]] = {
    GGUFValueType.UINT8: ("B", "u1"),
    GGUFValueType.INT8: ("b", "i1"),
    GGUFValueType.UINT16: ("H", "u2"),
    GGUFValueType.INT16: ("h", "i2"),
    GGUFValueType.UINT32: ("I", "u4"),
    GGUFValueType.INT32: ("i", "i4"),
    GGUFValueType.FLOAT32: ("f", "f4"),
    GGUFValueType.UINT64: ("Q", "u8"),
    GGUFValueType.INT64: ("q", "i8"),
    GGUFValueType.FLOAT64: ("d", "f8"),
    GGUFValueType.BOOL: ("?", "?"),
}
# Unquantized tensor types: their data is viewed as numbers, not bytes (as GGUFReader does).
_PLAIN: dict[GGMLQuantizationType, str] = {
    GGMLQuantizationType.F16: "f2",
    GGMLQuantizationType.F32: "f4",
    GGMLQuantizationType.F64: "f8",
    GGMLQuantizationType.I8: "i1",
    GGMLQuantizationType.I16: "i2",
    GGMLQuantizationType.I32: "i4",
    GGMLQuantizationType.I64: "i8",
}


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One tensor: `shape` in GGUF order (fastest-varying dimension first); `data` shaped
    like the row-major array (reversed shape), in bytes per row for a quantized type."""

    name: str
    tensor_type: GGMLQuantizationType
    shape: tuple[int, ...]
    data: np.ndarray[Any, Any]


@dataclass(frozen=True, slots=True)
class GGUFHeader:
    version: int
    metadata: dict[str, Any]  # key -> int, float, bool, str or list of them
    tensors: list[TensorInfo]


class _Cursor:
    """Reads values off the header's bytes, front to back."""

    def __init__(self, buffer: memoryview, order: str) -> None:
        self.buffer = buffer
        self.order = order  # "<" or ">"
        self.at = 0

    def scalar(self, fmt: str) -> Any:
        (value,) = struct.unpack_from(self.order + fmt, self.buffer, self.at)
        self.at += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        size = self.scalar("Q")
        end = self.at + size
        if end > len(self.buffer):
            raise ValueError(f"a string of {size} bytes runs past the end of the file")
        text = str(self.buffer[self.at : end], "utf-8")
        self.at = end
        return text

    def value(self, kind: int) -> Any:
        kind = GGUFValueType(kind)
        if kind == GGUFValueType.STRING:
            return self.string()
        if kind == GGUFValueType.ARRAY:
            return self.array()
        return self.scalar(_SCALARS[kind][0])

    def array(self) -> list[Any]:
        kind = GGUFValueType(self.scalar("I"))
        count = self.scalar("Q")
        if kind == GGUFValueType.STRING:
            return [self.string() for _ in range(count)]
        if kind == GGUFValueType.ARRAY:
            return [self.array() for _ in range(count)]
        dtype = np.dtype(self.order + _SCALARS[kind][1])
        values = np.frombuffer(self.buffer, dtype, count, self.at)
        self.at += values.nbytes
        items: list[Any] = values.tolist()
        return items


def read_header(path: Path) -> GGUFHeader:
    """The header of the GGUF file at `path`; ModelLoadError if it is not one we read."""
    try:
        with path.open("rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as exc:  # ValueError: an empty file cannot be mapped
        raise ModelLoadError(f"{path}: not a readable GGUF file ({exc})") from exc
    try:
        return _parse(memoryview(mapped), path)
    except UnicodeDecodeError as exc:
        raise ModelLoadError(f"{path}: a metadata string is not valid UTF-8 ({exc})") from exc
    except (struct.error, ValueError, KeyError, IndexError) as exc:
        raise ModelLoadError(f"{path}: not a readable GGUF file ({exc})") from exc


def _parse(buffer: memoryview, path: Path) -> GGUFHeader:
    if bytes(buffer[:4]) != MAGIC:
        raise ValueError("GGUF magic invalid")
    order = "<"
    (version,) = struct.unpack_from("<I", buffer, 4)
    if version & 0xFFFF == 0:  # written on a machine of the other byte order
        order = ">"
        (version,) = struct.unpack_from(">I", buffer, 4)
    if version not in VERSIONS:
        raise ValueError(f"GGUF version {version}; versions {VERSIONS} are read")
    cursor = _Cursor(buffer, order)
    cursor.at = 8
    n_tensors, n_values = cursor.scalar("Q"), cursor.scalar("Q")
    metadata: dict[str, Any] = {}
    for _ in range(n_values):
        key = cursor.string()
        metadata[key] = cursor.value(cursor.scalar("I"))
    infos = []
    for _ in range(n_tensors):
        name = cursor.string()
        shape = tuple(cursor.scalar("Q") for _ in range(cursor.scalar("I")))
        infos.append((name, GGMLQuantizationType(cursor.scalar("I")), shape, cursor.scalar("Q")))
    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise ValueError(f"general.alignment {alignment!r} is not a power of two")
    start = -(-cursor.at // alignment) * alignment
    file = np.frombuffer(buffer, np.uint8)
    tensors, seen = [], set()
    for name, kind, shape, offset in infos:
        if name in seen:
            raise ValueError(f"tensor {name} appears twice")
        seen.add(name)
        tensors.append(_tensor(file, name, kind, shape, start + offset, order))
    return GGUFHeader(version, metadata, tensors)


def _tensor(
    file: np.ndarray[Any, Any],
    name: str,
    kind: GGMLQuantizationType,
    shape: tuple[int, ...],
    offset: int,
    order: str,
) -> TensorInfo:
    """The tensor's data as GGUFReader views it: numbers for plain types, else bytes per row."""
    block, type_size = GGML_QUANT_SIZES[kind]
    dims = tuple(reversed(shape))
    elements = int(np.prod(shape, dtype=np.int64))
    n_bytes = elements * type_size // block
    if offset + n_bytes > file.size:
        raise ValueError(f"tensor {name} runs past the end of the file")
    raw = file[offset : offset + n_bytes]
    if kind in _PLAIN:
        data = raw.view(np.dtype(order + _PLAIN[kind])).reshape(dims)
    else:
        if dims[-1] % block:
            raise ValueError(f"tensor {name}: rows of {dims[-1]} are not whole {kind.name} blocks")
        data = raw.reshape(*dims[:-1], dims[-1] // block * type_size)
    return TensorInfo(name, kind, shape, data)

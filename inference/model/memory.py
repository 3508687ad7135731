"""Host memory habits of the engine: cache tensors that cost only what is written, and giving
freed heap back to the operating system after a model load.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math
import mmap
from collections.abc import Callable

import torch


def lazy_zeros(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Zeros that become resident only where written (CPU), like `torch.empty` but finite.

    Not `torch.empty`: a batched decode reads other slots' positions past their end, masked
    out, and SDPA turns a NaN there into NaN output (0 * NaN); uninitialised memory can hold
    NaN bit patterns. Not `torch.zeros`, which writes every byte, nor numpy's calloc, which
    asks for transparent huge pages: one written position would then make its whole 2 MB
    resident. A private anonymous mapping with huge pages off gets fresh zero pages from the
    kernel, 4 KB at a time, as they are first written.
    """
    if device.type != "cpu":
        return torch.zeros(shape, dtype=dtype, device=device)
    nbytes = math.prod(shape) * dtype.itemsize
    buffer = mmap.mmap(-1, max(nbytes, 1), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):  # Linux
        buffer.madvise(mmap.MADV_NOHUGEPAGE)
    raw = torch.frombuffer(buffer, dtype=torch.uint8, count=nbytes)  # keeps `buffer` alive
    return raw.view(dtype).view(shape)


def trim_heap() -> bool:
    """Return freed heap pages to the OS (glibc's `malloc_trim`); False where unavailable.

    A model load frees hundreds of MB of float32 and unpacked weights in pieces below glibc's
    mmap threshold; they stay resident in the heap until trimmed.
    """
    malloc_trim = _malloc_trim()
    return malloc_trim is not None and bool(malloc_trim(0))


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, looked up once: `find_library` runs `ldconfig -p` in a new
    process each time (a load trims 32 times: ~0.25 s of a server's start on 2 cores)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        function: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return function

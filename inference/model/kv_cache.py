"""The key/value cache: one preallocated tensor pair that every running sequence writes into.

Layout: `k` and `v` are [n_layers, max_batch, n_kv_heads, max_seq_len, head_dim]. A sequence
owns one *slot* (a row of the batch dim) and its token at position p sits at [:, slot, :, p].
The engine keeps active slots contiguous (`move`) so a decode step reads
`k[layer, first:first + B, :, :max_end]`, a zero-copy view, straight into attention.
"""

from __future__ import annotations

import torch

from inference.config import ModelArgs
from inference.model.memory import lazy_zeros


class KVCache:
    """Keys and values of up to `max_batch` sequences of up to `max_seq_len` tokens each.

    On the CPU pages nobody has written are never touched, so a large `max_batch * max_seq_len`
    costs address space, not resident memory, until it is used (see `lazy_zeros`).
    """

    def __init__(
        self,
        args: ModelArgs,
        max_batch: int,
        max_seq_len: int | None = None,
        *,
        dtype: torch.dtype = torch.bfloat16,
        device: torch.device | str = "cpu",
    ) -> None:
        seq_len = args.max_seq_len if max_seq_len is None else max_seq_len
        if max_batch <= 0 or not 0 < seq_len <= args.max_seq_len:
            raise ValueError(
                f"KVCache needs max_batch > 0 and 0 < max_seq_len <= {args.max_seq_len} "
                f"(the model's context), got {max_batch} and {seq_len}"
            )
        shape = (args.n_layers, max_batch, args.n_kv_heads, seq_len, args.head_dim)
        self.k = lazy_zeros(shape, dtype, torch.device(device))
        self.v = lazy_zeros(shape, dtype, torch.device(device))

    @property
    def max_batch(self) -> int:
        return self.k.shape[1]

    @property
    def max_seq_len(self) -> int:
        return self.k.shape[3]

    @property
    def dtype(self) -> torch.dtype:
        return self.k.dtype

    @property
    def nbytes(self) -> int:
        """Bytes reserved for keys and values together (address space, not resident memory)."""
        return self.k.nbytes + self.v.nbytes

    def move(self, src: int, dst: int, length: int) -> None:
        """Copy positions [0, length) of slot `src` into slot `dst` (to keep slots contiguous)."""
        self._check(src, dst, length)
        if src == dst or length == 0:
            return
        for cache in (self.k, self.v):
            # [n_layers, n_kv_heads, length, head_dim]; src and dst rows never overlap.
            cache[:, dst, :, :length].copy_(cache[:, src, :, :length])

    def copy_prefix(self, src: int, dst: int, length: int) -> None:
        """Give slot `dst` the first `length` cached positions of `src` (shared prompt prefix)."""
        self.move(src, dst, length)

    def _check(self, src: int, dst: int, length: int) -> None:
        for name, slot in (("src", src), ("dst", dst)):
            if not 0 <= slot < self.max_batch:
                raise IndexError(f"KVCache {name} slot {slot} outside [0, {self.max_batch})")
        if not 0 <= length <= self.max_seq_len:
            raise IndexError(f"KVCache length {length} outside [0, {self.max_seq_len}]")

"""One forward's place in the KV cache (`Step`), and what the model asks of blocks that run a
decode step in one call (`FusedDecode`, which `inference.fused.blocks` provides in C++).

A leaf module: the model and the fused blocks both build on it, neither on the other's types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from torch import Tensor


@dataclass(slots=True)
class Step:
    """Where one forward's tokens go in the cache and which cache positions each may see."""

    slots: slice  # cache rows of the B sequences
    max_end: int  # attention reads cache positions [0, max_end)
    cos: Tensor  # [B, T, 1, head_dim]
    sin: Tensor
    rows: Tensor | None  # [B, 1] cache rows; None: one sequence writes `span` in place
    positions: Tensor | slice  # [B, T] positions written, or their slice for one sequence
    mask: Tensor | None  # [B, 1, T, max_end] bool, True = may attend; None when not needed
    is_causal: bool  # one sequence prefilled from position 0: SDPA's own causal mask
    # Verification of a speculative draft (one sequence): each token attends as its own decode
    # step would, so its output is the decode step's bit for bit, whatever the kernels do.
    per_token_from: int | None = None

    def store(self, cache: Tensor, new: Tensor) -> None:
        """Write new [B, T, kv_heads, head_dim] into cache [B, kv_heads, seq, head_dim].

        Indexing the cache in its own layout keeps `index_put_` in place: through a
        transposed view it would copy every row's whole cache out and back, which makes all
        of it resident and costs a full pass over it per layer.
        """
        if self.rows is None:
            cache[:, :, self.positions] = new.transpose(1, 2)
        else:
            cache[self.rows, :, self.positions] = new  # advanced dims first: [B, T, kv, hd]


class FusedDecode(Protocol):
    """The model's blocks in one call for the steps it `serves`; the rest run in Python."""

    def serves(self, x: Tensor, step: Step) -> bool: ...

    def __call__(self, x: Tensor, k_all: Tensor, v_all: Tensor, step: Step) -> Tensor: ...

"""Hybrid CPU-GPU decoding (APEX-style): the runtime that carries out a placement `Plan`.

The streams are split in two: *resident* streams keep their KV cache on the accelerator,
*offloaded* streams keep theirs in host memory. Each decode step runs every layer's dense
work (norms, QKV, output projection, MLP) for all streams in one batch on the accelerator;
only attention over the offloaded KV differs by mode (`inference.placement.Mode`):

- `HYBRID`: the offloaded streams' attention runs on the CPU, next to their KV. Only their
  q, k and v vectors go to the host and their attention output comes back (a few KB per
  layer). The accelerator's kernels are queued asynchronously, so the CPU attends while the
  accelerator attends over the resident streams' KV.
- `HOST_OFFLOAD`: the offloaded streams' KV is copied to the accelerator at every layer of
  every step and attended there, as swapping servers do. A side stream copies the next
  layer's KV while this layer computes (double-buffered), so a step costs about
  max(compute, copies). It is the baseline that `bench/hybrid.py` measures hybrid against.

Each mode keeps the host cache in the layout its work reads best: per stream and head
([L, B, kv, S, hd]) for CPU attention, position-major ([L, S, B, kv, hd]) for host offload,
so that a layer's first `max_end` positions are one contiguous block to copy.

Without a GPU both sides are the CPU and the same code runs serially: the tests check on
the CPU that either mode decodes like the plain model's batched decode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor

from inference.kv_cache import KVCache
from inference.model import Transformer, TransformerBlock, decode_attention
from inference.placement import Mode

HOST = torch.device("cpu")


@dataclass(frozen=True, slots=True)
class _Part:
    """Where one step writes and reads for a group of streams on one device."""

    rows: Tensor  # [n] the streams' rows in their cache
    positions: Tensor  # [n] the position each stream writes this step
    max_end: int  # attention reads positions [0, max_end)
    mask: Tensor | None  # [n, 1, 1, max_end], True = may attend; None when all lengths agree

    @classmethod
    def of(cls, lengths: Sequence[int], device: torch.device) -> _Part:
        positions = torch.tensor(lengths, dtype=torch.int64)
        max_end = max(lengths) + 1 if lengths else 0
        mask = None
        if lengths and min(lengths) != max(lengths):
            mask = (torch.arange(max_end) <= positions[:, None]).view(len(lengths), 1, 1, -1)
            mask = mask.to(device)
        rows = torch.arange(len(lengths))
        return cls(rows.to(device), positions.to(device), max_end, mask)


class HybridDecoder:
    """Decodes `resident + offloaded` streams together; stream i < resident has its KV on
    the model's device, the others in host memory (see the module docstring for `mode`).

    `prefill(stream, tokens)` fills one stream's cache; `step(tokens)` then decodes one
    token for every stream and returns their logits [B, vocab], float32.
    """

    def __init__(
        self,
        model: Transformer,
        *,
        resident: int,
        offloaded: int,
        max_seq_len: int,
        mode: Mode = Mode.HYBRID,
    ) -> None:
        if mode not in (Mode.HYBRID, Mode.HOST_OFFLOAD):
            raise ValueError(f"HybridDecoder runs {Mode.HYBRID.value} or "
                             f"{Mode.HOST_OFFLOAD.value}, not {mode.value}")  # fmt: skip
        if resident < 0 or offloaded < 0 or resident + offloaded == 0:
            raise ValueError(f"need at least one stream, got {resident} + {offloaded}")
        args = model.args
        self.model, self.mode = model, mode
        self.resident, self.offloaded = resident, offloaded
        self.device = model.rope_cos.device
        self.lengths = [0] * (resident + offloaded)
        self.max_seq_len = max_seq_len
        dtype, kv, hd = model.dtype, args.n_kv_heads, args.head_dim
        self._scratch = KVCache(args, 1, max_seq_len, dtype=dtype, device=self.device)
        shape = (args.n_layers, resident, kv, max_seq_len, hd)
        self.gpu_k = torch.zeros(shape, dtype=dtype, device=self.device)
        self.gpu_v = torch.zeros(shape, dtype=dtype, device=self.device)
        if mode is Mode.HYBRID:
            host_shape: tuple[int, ...] = (args.n_layers, offloaded, kv, max_seq_len, hd)
        else:
            host_shape = (args.n_layers, max_seq_len, offloaded, kv, hd)
        pin = self.device.type == "cuda"
        self.host_k = torch.zeros(host_shape, dtype=dtype, pin_memory=pin)
        self.host_v = torch.zeros(host_shape, dtype=dtype, pin_memory=pin)
        heads = args.n_heads + 2 * kv
        # Per-layer pinned buffers for the vectors that cross the bus (hybrid), so a layer
        # never overwrites a buffer an earlier layer's asynchronous copy still reads.
        vectors = (args.n_layers, offloaded, heads, hd) if mode is Mode.HYBRID else (0,)
        self._sent = torch.zeros(vectors, dtype=dtype, pin_memory=pin)
        outputs = (args.n_layers, offloaded, kv, args.n_heads // kv, hd)
        self._answers = torch.zeros(outputs if mode is Mode.HYBRID else (0,), dtype=dtype,
                                    pin_memory=pin)  # fmt: skip
        self._offload = _Prefetcher(self) if mode is Mode.HOST_OFFLOAD and offloaded else None

    @property
    def streams(self) -> int:
        return len(self.lengths)

    def prefill(self, stream: int, tokens: Sequence[int]) -> Tensor:
        """Prompt `tokens` into `stream`'s (empty or reused) cache; its last logits [vocab]."""
        if not 0 <= stream < self.streams:
            raise IndexError(f"stream {stream} outside [0, {self.streams})")
        n = len(tokens)
        if not 0 < n < self.max_seq_len:
            raise ValueError(f"a prompt of {n} tokens does not fit {self.max_seq_len} positions")
        ids = torch.tensor([list(tokens)], device=self.device)
        logits: Tensor = self.model(ids, torch.tensor([0]), self._scratch)[0]
        k, v = self._scratch.k[:, 0, :, :n], self._scratch.v[:, 0, :, :n]  # [L, kv, n, hd]
        if stream < self.resident:
            self.gpu_k[:, stream, :, :n], self.gpu_v[:, stream, :, :n] = k, v
        elif self.mode is Mode.HYBRID:
            row = stream - self.resident
            self.host_k[:, row, :, :n], self.host_v[:, row, :, :n] = k.cpu(), v.cpu()
        else:
            row = stream - self.resident
            self.host_k[:, :n, row] = k.transpose(1, 2).cpu()
            self.host_v[:, :n, row] = v.transpose(1, 2).cpu()
        self.lengths[stream] = n
        return logits

    def step(self, tokens: Sequence[int]) -> Tensor:
        """One token for every stream: `tokens[i]` is stream i's last token. Logits [B, vocab]."""
        if len(tokens) != self.streams:
            raise ValueError(f"step needs one token per stream ({self.streams}), got {len(tokens)}")
        if max(self.lengths) + 1 > self.max_seq_len:
            raise ValueError(f"a stream would pass its {self.max_seq_len} cached positions")
        model, g = self.model, self.resident
        with torch.inference_mode():
            positions = torch.tensor(self.lengths, device=self.device)
            cos = model.rope_cos[positions].view(self.streams, 1, 1, -1)
            sin = model.rope_sin[positions].view(self.streams, 1, 1, -1)
            x = model.embed(torch.tensor(tokens, device=self.device).view(-1, 1))
            resident = _Part.of(self.lengths[:g], self.device)
            attend_on = self.device if self.mode is Mode.HOST_OFFLOAD else HOST
            offloaded = _Part.of(self.lengths[g:], attend_on)
            if self._offload is not None:
                self._offload.start(offloaded.max_end)
            for i, layer in enumerate(model.layers):
                x = self._layer(i, cast(TransformerBlock, layer), x, cos, sin, resident, offloaded)
            if self._offload is not None:
                self._offload.finish(offloaded)
            logits = model.lm_head(model.norm(x[:, 0])).float()
        self.lengths = [n + 1 for n in self.lengths]
        return logits

    def _layer(
        self,
        i: int,
        layer: TransformerBlock,
        x: Tensor,
        cos: Tensor,
        sin: Tensor,
        resident: _Part,
        offloaded: _Part,
    ) -> Tensor:
        attention, g, bsz = layer.attention, self.resident, x.shape[0]
        q, k, v = attention.project(layer.attention_norm(x), cos, sin)  # [B, 1, heads, hd]
        if self.offloaded and self.mode is Mode.HYBRID:
            sent = self._send(i, q[g:], k[g:], v[g:])
        parts = []
        if g:
            _store(self.gpu_k[i], resident, k[:g, 0])
            _store(self.gpu_v[i], resident, v[:g, 0])
            keys, values = (c[i][:, :, : resident.max_end] for c in (self.gpu_k, self.gpu_v))
            parts.append(decode_attention(q[:g, 0], keys, values, resident.mask, k.shape[2]))
        if self.offloaded and self.mode is Mode.HYBRID:
            parts.append(self._attend_on_host(i, sent, offloaded))
        elif self._offload is not None:
            parts.append(self._offload.attend(i, q[g:, 0], k[g:, 0], v[g:, 0], offloaded))
        y = torch.cat(parts) if len(parts) > 1 else parts[0]  # [B, kv, group, hd]
        h = x + attention.wo(y.reshape(bsz, 1, -1))
        out: Tensor = h + layer.feed_forward(layer.ffn_norm(h))
        return out

    def _send(self, i: int, q: Tensor, k: Tensor, v: Tensor) -> torch.cuda.Event | None:
        """Queue the copy of the offloaded streams' q, k, v [n, 1, heads, hd] to the host."""
        self._sent[i].copy_(torch.cat((q, k, v), dim=2)[:, 0], non_blocking=True)
        if self.device.type != "cuda":
            return None
        return _recorded()

    def _attend_on_host(self, i: int, sent: torch.cuda.Event | None, part: _Part) -> Tensor:
        """CPU attention of the offloaded streams over their host KV; its output on the device."""
        if sent is not None:
            sent.synchronize()  # only the vectors' copy: the resident attention runs on
        heads, kv = self.model.args.n_heads, self.model.args.n_kv_heads
        q, k, v = self._sent[i].split_with_sizes([heads, kv, kv], dim=1)
        _store(self.host_k[i], part, k)
        _store(self.host_v[i], part, v)
        keys, values = (c[i][:, :, : part.max_end] for c in (self.host_k, self.host_v))
        self._answers[i].copy_(decode_attention(q, keys, values, part.mask, kv))
        return self._answers[i].to(self.device, non_blocking=True)


class _Prefetcher:
    """HOST_OFFLOAD: copies each layer's offloaded KV to the device ahead of its use.

    Two device buffers alternate between layers; on a GPU a side stream fills the buffer of
    layer i + 2 once layer i's attention has finished reading it. New tokens' keys and values
    are written into the device copy for this step's attention, collected, and written back
    to the host cache once at the end of the step.
    """

    def __init__(self, decoder: HybridDecoder) -> None:
        self.decoder = decoder
        device, host = decoder.device, decoder.host_k
        # Zeros, not empty: positions past a shorter stream's end are masked, but SDPA turns
        # a NaN bit pattern there into NaN output; later they hold stale (finite) values.
        self.buffers = [torch.zeros_like(host[0], device=device) for _ in range(4)]  # K,V x 2
        self.new_k = torch.empty_like(host[:, 0], device=device)  # [L, n, kv, hd]
        self.new_v = torch.empty_like(self.new_k)
        self.cuda = device.type == "cuda"
        self.stream = torch.cuda.Stream(device) if self.cuda else None  # type: ignore[no-untyped-call]
        self.copied: list[torch.cuda.Event | None] = [None, None]
        self.read: list[torch.cuda.Event | None] = [None, None]
        self.max_end = 0

    def start(self, max_end: int) -> None:
        self.max_end = max_end
        self.read = [None, None]
        for i in range(min(2, len(self.decoder.model.layers))):
            self._fetch(i)

    def _fetch(self, i: int) -> None:
        """Copy layer i's first max_end positions into buffer pair i % 2."""
        d, n, slot = self.decoder, self.max_end - 1, i % 2  # position max_end-1 comes new
        k_buf, v_buf = self.buffers[2 * slot], self.buffers[2 * slot + 1]
        if self.stream is None:
            k_buf[:n].copy_(d.host_k[i, :n])
            v_buf[:n].copy_(d.host_v[i, :n])
            return
        with torch.cuda.stream(self.stream):
            if (read := self.read[slot]) is not None:
                self.stream.wait_event(read)
            k_buf[:n].copy_(d.host_k[i, :n], non_blocking=True)
            v_buf[:n].copy_(d.host_v[i, :n], non_blocking=True)
            self.copied[slot] = _recorded(self.stream)

    def attend(self, i: int, q: Tensor, k: Tensor, v: Tensor, part: _Part) -> Tensor:
        """Layer i's attention of the offloaded streams (q [n, heads, hd]) on the device."""
        slot, kv = i % 2, k.shape[1]
        if self.cuda and (copied := self.copied[slot]) is not None:
            torch.cuda.current_stream().wait_event(copied)
        k_buf, v_buf = self.buffers[2 * slot], self.buffers[2 * slot + 1]  # [S, n, kv, hd]
        k_buf[part.positions, part.rows] = k
        v_buf[part.positions, part.rows] = v
        self.new_k[i], self.new_v[i] = k, v
        keys = k_buf[: part.max_end].permute(1, 2, 0, 3)  # [n, kv, max_end, hd]
        values = v_buf[: part.max_end].permute(1, 2, 0, 3)
        out = decode_attention(q, keys, values, part.mask, kv)
        if self.cuda:
            self.read[slot] = _recorded()
        if i + 2 < len(self.decoder.model.layers):
            self._fetch(i + 2)
        return out

    def finish(self, part: _Part) -> None:
        """Write this step's new keys and values into the host cache."""
        d, rows, positions = self.decoder, part.rows.cpu(), part.positions.cpu()
        d.host_k[:, positions, rows] = self.new_k.cpu()  # [L, n, kv, hd]
        d.host_v[:, positions, rows] = self.new_v.cpu()


def _store(cache: Tensor, part: _Part, new: Tensor) -> None:
    """new [n, kv, hd] into cache [n, kv, S, hd] at each stream's position."""
    cache[part.rows, :, part.positions] = new


def _recorded(stream: torch.cuda.Stream | None = None) -> torch.cuda.Event:
    """A CUDA event recorded on `stream` (the current one by default)."""
    event = torch.cuda.Event()  # type: ignore[no-untyped-call]
    event.record(stream)
    return event

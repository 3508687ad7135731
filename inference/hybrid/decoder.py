"""Hybrid CPU-GPU decoding (APEX-style): the runtime that carries out a placement `Plan`.

The streams are split in two: *resident* streams keep their KV cache on the accelerator,
*offloaded* streams keep theirs in host memory. Every layer's dense work (norms, QKV,
output projection, MLP) runs on the accelerator; where the offloaded streams attend, and
how the two groups are batched, depends on the mode (`inference.hybrid.placement.Mode`):

- `HYBRID`: the offloaded streams' attention runs on the CPU, next to their KV. Only their
  q, k and v vectors go to the host and their attention output comes back (a few KB per
  layer). Resident and offloaded streams run as two sub-batches, pipelined per layer (as
  NEO and APEX do): the offloaded streams' projections and their copy to the host are
  queued first, then the resident streams' whole layer; the accelerator works through that
  while the CPU attends, and the offloaded streams' output projection and MLP follow. The
  price is two smaller batches of dense work per layer instead of one.
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

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor

from inference.hybrid.placement import Mode
from inference.model.kv_cache import KVCache
from inference.model.transformer import Transformer, TransformerBlock, decode_attention

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


@dataclass(frozen=True, slots=True)
class _Step:
    """What every layer of one decode step shares."""

    cos: Tensor  # [B, 1, 1, head_dim]: RoPE at each stream's position
    sin: Tensor
    resident: _Part  # streams [0, resident), on the device
    offloaded: _Part  # the others: on the host (hybrid) or the device (host offload)


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
        with torch.inference_mode(), _on(self.device):
            positions = torch.tensor(self.lengths, device=self.device)
            cos = model.rope_cos[positions].view(self.streams, 1, 1, -1)
            sin = model.rope_sin[positions].view(self.streams, 1, 1, -1)
            x = model.embed(torch.tensor(tokens, device=self.device).view(-1, 1))
            attend_on = self.device if self.mode is Mode.HOST_OFFLOAD else HOST
            at = _Step(cos, sin, _Part.of(self.lengths[:g], self.device),
                       _Part.of(self.lengths[g:], attend_on))  # fmt: skip
            blocks = [cast(TransformerBlock, layer) for layer in model.layers]
            if self.mode is Mode.HYBRID:
                x = self._hybrid_layers(blocks, x, at)
            else:
                if self._offload is not None:
                    self._offload.start(at.offloaded.max_end)
                for i, block in enumerate(blocks):
                    x = self._offload_layer(i, block, x, at)
                if self._offload is not None:
                    self._offload.finish(at.offloaded)
            logits = model.lm_head(model.norm(x[:, 0])).float()
        self.lengths = [n + 1 for n in self.lengths]
        return logits

    def _hybrid_layers(self, blocks: list[TransformerBlock], x: Tensor, at: _Step) -> Tensor:
        """Two sub-batches, pipelined per layer: the offloaded streams' q, k, v go to the
        host, then the resident streams' whole layer is queued on the GPU, and only then
        does this thread run the offloaded streams' attention on the CPU, so the GPU works
        through the resident layer (dense work and attention) meanwhile."""
        g, cos, sin = self.resident, at.cos, at.sin
        x_gpu, x_cpu = x[:g], x[g:]
        for i, block in enumerate(blocks):
            sent = None
            if self.offloaded:
                q, k, v = block.attention.project(block.attention_norm(x_cpu), cos[g:], sin[g:])
                sent = self._send(i, q, k, v)
            if g:
                x_gpu = self._resident_layer(i, block, x_gpu, cos[:g], sin[:g], at.resident)
            if self.offloaded:
                x_cpu = _finish_block(block, x_cpu, self._attend_on_host(i, sent, at.offloaded))
        return torch.cat((x_gpu, x_cpu)) if g and self.offloaded else (x_gpu if g else x_cpu)

    def _resident_layer(
        self, i: int, block: TransformerBlock, x: Tensor, cos: Tensor, sin: Tensor, part: _Part
    ) -> Tensor:
        q, k, v = block.attention.project(block.attention_norm(x), cos, sin)
        return _finish_block(block, x, self._resident_attention(i, q, k, v, part))

    def _resident_attention(self, i: int, q: Tensor, k: Tensor, v: Tensor, part: _Part) -> Tensor:
        """Attention of resident streams (q [n, 1, heads, hd]) over their device KV."""
        _store(self.gpu_k[i], part, k[:, 0])
        _store(self.gpu_v[i], part, v[:, 0])
        keys, values = (c[i][:, :, : part.max_end] for c in (self.gpu_k, self.gpu_v))
        return decode_attention(q[:, 0], keys, values, part.mask, k.shape[2])

    def _offload_layer(self, i: int, block: TransformerBlock, x: Tensor, at: _Step) -> Tensor:
        """HOST_OFFLOAD: one batch; the offloaded streams attend on the GPU over copied KV."""
        g = self.resident
        q, k, v = block.attention.project(block.attention_norm(x), at.cos, at.sin)
        parts = []  # [n, kv, group, hd] each
        if g:
            parts.append(self._resident_attention(i, q[:g], k[:g], v[:g], at.resident))
        if self._offload is not None:
            parts.append(self._offload.attend(i, q[g:, 0], k[g:, 0], v[g:, 0], at.offloaded))
        return _finish_block(block, x, torch.cat(parts) if len(parts) > 1 else parts[0])

    def _send(self, i: int, q: Tensor, k: Tensor, v: Tensor) -> torch.cuda.Event | None:
        """Queue the copy of the offloaded streams' q, k, v [n, 1, heads, hd] to the host."""
        self._sent[i].copy_(torch.cat((q, k, v), dim=2)[:, 0], non_blocking=True)
        if self.device.type != "cuda":
            return None
        return _recorded(torch.cuda.current_stream(self.device))

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
        # What it needs, not the decoder itself: no reference cycle keeps a finished
        # decoder's GPU buffers and pinned host cache alive until the cycle collector runs.
        self.device, self.host_k, self.host_v = decoder.device, decoder.host_k, decoder.host_v
        self.layers = decoder.host_k.shape[0]
        # Zeros, not empty: positions past a shorter stream's end are masked, but SDPA turns
        # a NaN bit pattern there into NaN output; later they hold stale (finite) values.
        self.buffers = [torch.zeros_like(self.host_k[0], device=self.device) for _ in range(4)]
        self.new_k = torch.empty_like(self.host_k[:, 0], device=self.device)  # [L, n, kv, hd]
        self.new_v = torch.empty_like(self.new_k)
        cuda = self.device.type == "cuda"
        self.stream = torch.cuda.Stream(self.device) if cuda else None  # type: ignore[no-untyped-call]
        self.copied: list[torch.cuda.Event | None] = [None, None]
        self.read: list[torch.cuda.Event | None] = [None, None]
        self.max_end = 0

    def start(self, max_end: int) -> None:
        self.max_end = max_end
        if self.stream is not None:  # the buffers' zeroing and last step's reads come first
            self.stream.wait_stream(torch.cuda.current_stream(self.device))
        for i in range(min(2, self.layers)):
            self._fetch(i)

    def _fetch(self, i: int) -> None:
        """Copy layer i's first max_end positions into buffer pair i % 2."""
        n, slot = self.max_end - 1, i % 2  # position max_end - 1 is this step's new token
        k_buf, v_buf = self.buffers[2 * slot], self.buffers[2 * slot + 1]
        if self.stream is None:
            k_buf[:n].copy_(self.host_k[i, :n])
            v_buf[:n].copy_(self.host_v[i, :n])
            return
        with torch.cuda.stream(self.stream):
            if (read := self.read[slot]) is not None:
                self.stream.wait_event(read)
            k_buf[:n].copy_(self.host_k[i, :n], non_blocking=True)
            v_buf[:n].copy_(self.host_v[i, :n], non_blocking=True)
            self.copied[slot] = _recorded(self.stream)

    def attend(self, i: int, q: Tensor, k: Tensor, v: Tensor, part: _Part) -> Tensor:
        """Layer i's attention of the offloaded streams (q [n, heads, hd]) on the device."""
        slot, kv = i % 2, k.shape[1]
        if self.stream is not None and (copied := self.copied[slot]) is not None:
            torch.cuda.current_stream(self.device).wait_event(copied)
        k_buf, v_buf = self.buffers[2 * slot], self.buffers[2 * slot + 1]  # [S, n, kv, hd]
        k_buf[part.positions, part.rows] = k
        v_buf[part.positions, part.rows] = v
        self.new_k[i], self.new_v[i] = k, v
        keys = k_buf[: part.max_end].permute(1, 2, 0, 3)  # [n, kv, max_end, hd]
        values = v_buf[: part.max_end].permute(1, 2, 0, 3)
        out = decode_attention(q, keys, values, part.mask, kv)
        if self.stream is not None:
            self.read[slot] = _recorded(torch.cuda.current_stream(self.device))
        if i + 2 < self.layers:
            self._fetch(i + 2)
        return out

    def finish(self, part: _Part) -> None:
        """Write this step's new keys and values into the host cache."""
        rows, positions = part.rows.cpu(), part.positions.cpu()
        self.host_k[:, positions, rows] = self.new_k.cpu()  # [L, n, kv, hd]; waits for the step
        self.host_v[:, positions, rows] = self.new_v.cpu()


def _store(cache: Tensor, part: _Part, new: Tensor) -> None:
    """new [n, kv, hd] into cache [n, kv, S, hd] at each stream's position."""
    cache[part.rows, :, part.positions] = new


def _finish_block(block: TransformerBlock, x: Tensor, y: Tensor) -> Tensor:
    """The rest of a block after attention: y [n, kv, group, hd] for x [n, 1, dim]."""
    return block.finish(x, block.attention.wo(y.reshape(x.shape[0], 1, -1)))


def _on(device: torch.device) -> contextlib.AbstractContextManager[object]:
    """Make `device` the current CUDA device (a no-op elsewhere)."""
    return torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()


def _recorded(stream: torch.cuda.Stream) -> torch.cuda.Event:
    """A CUDA event recorded on `stream`."""
    event = torch.cuda.Event()  # type: ignore[no-untyped-call]
    event.record(stream)
    return event

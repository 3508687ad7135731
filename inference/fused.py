"""Decode steps through the transformer blocks as a single C++ call.

A one-sequence decode step runs ~20 small operators per block; on a 2-core CPU the Python
interpreter and `nn.Module` dispatch around them cost about a quarter of the step. The
extension in `csrc/decode_step.cpp` calls the same ATen operators in the same order, so its
output equals the Python path's bit for bit (`attach` checks that on the model before using
it). With int4 or int8 weights it serves one sequence's decode steps and speculative
verifications, and decode steps of batches (from `DENSE_ROWS` rows on through the dense
copies, as the Python path does); prefill chunks stay in Python, where the overhead is
shared by many rows.

The extension is compiled once per source, torch and Python version (~30 s on 2 cores, by
`python -m inference.fused`, which `make install` runs) into the user's cache directory;
`built()` loads it without compiling. Without a C++ compiler everything runs in Python.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib.util
import logging
import platform
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from platformdirs import user_cache_path
from torch import nn

from inference.errors import InferenceError
from inference.kv_cache import KVCache
from inference.linears import DENSE_ROWS, Int4Linear, Int8Linear
from inference.model import Step, Transformer, TransformerBlock

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("csrc") / "decode_step.cpp"
CFLAGS = ("-O2",)
STALE_LOCK_S = 600  # a build takes ~30 s on 2 cores; a lock this old was left by a killed one


class FusedBuildError(InferenceError):
    """The C++ decode step could not be compiled or loaded (the Python path still works)."""


@functools.cache
def _tag() -> str:
    """Changes with anything the binary depends on: the source, flags, torch and Python.
    Read once per process: `built()` and `build()` name the module several times."""
    digest = hashlib.sha256(SOURCE.read_bytes())
    for part in (*CFLAGS, torch.__version__, sys.version, platform.machine()):
        digest.update(part.encode())
    return digest.hexdigest()[:12]


def module_name() -> str:
    return f"schedsight_decode_{_tag()}"


def default_directory() -> Path:
    return user_cache_path("schedsight") / "fused"


def _library(directory: Path) -> Path:
    return directory / module_name() / f"{module_name()}.so"


def _lock(where: Path) -> Path:
    """torch's build lock (`FileBaton`): present while a build runs, or left by a killed one."""
    return where / "lock"


def _clear_stale_lock(where: Path) -> None:
    """A lock older than any build is left by one that was killed; torch would wait forever."""
    lock = _lock(where)
    try:
        if time.time() - lock.stat().st_mtime > STALE_LOCK_S:
            log.warning("fused decode: removing %s, left by a build that did not finish", lock)
            lock.unlink()
    except FileNotFoundError:
        pass


def built(directory: Path | None = None) -> ModuleType | None:
    """The compiled extension if this source was already built for this torch; else None."""
    name = module_name()
    library = _library(directory or default_directory())
    try:
        if not library.exists() or _lock(library.parent).exists():  # absent, or being built
            return None
    except OSError:  # a cache directory this user may not read
        return None
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, library)
    if spec is None or spec.loader is None:
        return None
    try:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except ImportError as exc:
        log.warning("fused decode: %s does not load (%s); rebuild it", library, exc)
        return None
    sys.modules[name] = module
    return module


def build(directory: Path | None = None, *, verbose: bool = False) -> ModuleType:
    """Compile (if needed) and load the extension; FusedBuildError says why it could not."""
    from torch.utils import cpp_extension

    name = module_name()
    where = (directory or default_directory()) / name
    try:
        where.mkdir(parents=True, exist_ok=True)
        _clear_stale_lock(where)
        module: ModuleType = cpp_extension.load(
            name,
            [str(SOURCE)],
            extra_cflags=list(CFLAGS),
            build_directory=str(where),
            verbose=verbose,
        )
    except (OSError, RuntimeError, ImportError) as exc:
        raise FusedBuildError(
            f"could not build the C++ decode step in {where}: {exc}. It needs a C++ compiler "
            "and ninja (the `ninja` package is a dependency); decoding runs in Python meanwhile"
        ) from exc
    return module


def supports(model: Transformer) -> bool:
    """Whether every block matmul runs a kernel the extension calls (int4 or int8 weights)."""
    if model.rope_cos.device.type != "cpu" or model.dtype != torch.bfloat16:
        return False
    return all(
        isinstance(linear, Int4Linear | Int8Linear)
        for layer in _blocks(model)
        for linear in (
            layer.attention.wqkv,
            layer.attention.wo,
            layer.feed_forward.w13,
            layer.feed_forward.w2,
        )
    )


def _blocks(model: Transformer) -> list[TransformerBlock]:
    return [layer for layer in model.layers if isinstance(layer, TransformerBlock)]


class FusedBlocks:
    """The model's blocks for decode steps and verifications, in C++."""

    def __init__(self, module: ModuleType, model: Transformer) -> None:
        if not supports(model):
            raise ValueError("the fused decode step needs int4 or int8 weights on a CPU, in bf16")
        args = model.args
        self.decoder = module.Decoder(
            args.n_heads, args.n_kv_heads, args.head_dim, args.dim, args.norm_eps
        )
        for layer in _blocks(model):
            attention, ff = layer.attention, layer.feed_forward
            linears = [_linear(module, m) for m in (attention.wqkv, attention.wo, ff.w13, ff.w2)]
            self.decoder.add_block(
                layer.attention_norm.doubled_weight(), layer.ffn_norm.doubled_weight(), linears
            )

    @staticmethod
    def serves(x: torch.Tensor, step: Step) -> bool:
        """One sequence's decode step or per-token verification, or one decode step of a
        batch; prefill chunks and batched verifications stay in Python."""
        bsz, seqlen = x.shape[:2]
        if bsz > 1:
            return seqlen == 1 and step.rows is not None
        return step.rows is None and (seqlen == 1 or step.per_token_from is not None)

    def __call__(
        self, x: torch.Tensor, k_all: torch.Tensor, v_all: torch.Tensor, step: Step
    ) -> torch.Tensor:
        out: torch.Tensor
        if step.rows is None:
            assert isinstance(step.positions, slice)
            out = self.decoder.forward(x, k_all, v_all, step.cos, step.sin, step.positions.start)
        else:
            out = self.decoder.forward_batch(
                x,
                k_all,
                v_all,
                step.cos,
                step.sin,
                step.rows,
                step.positions,
                step.mask,
                step.max_end,
            )
        return out


def _linear(module: ModuleType, linear: nn.Module) -> Any:
    if not isinstance(linear, Int4Linear | Int8Linear):
        raise ValueError(
            f"the fused decode step runs int4 or int8 layers, not {type(linear).__name__}"
        )
    dense = None if linear.dense is None else linear.dense.linear.packed
    if isinstance(linear, Int4Linear):
        weight, scales, group = linear.packed, linear.scales_zeros, linear.GROUP
    else:
        weight, scales, group = linear.q, linear.scale, 0
    return module.Linear(
        isinstance(linear, Int4Linear),
        weight,
        scales,
        linear.bias,
        linear.in_features,
        linear.out_features,
        group,
        dense,
        DENSE_ROWS,
    )


def attach(model: Transformer, module: ModuleType) -> bool:
    """Use the extension for `model`'s decode steps if it reproduces the Python path's logits
    and cache writes exactly on a short check (a decode step, a 3-token verification, a step
    of two sequences of different lengths and one of nine, which takes the dense copies, each
    way on a cache of its own); else, or if the check fails, keep Python."""
    if not supports(model):
        return False
    blocks = FusedBlocks(module, model)
    prompt = torch.arange(1, 6).view(1, -1) % model.args.vocab_size
    five = torch.tensor([5])
    runs = []
    same = False
    try:
        for using in (None, blocks):
            cache = KVCache(model.args, 9, 12, dtype=model.dtype)
            model.fused = None
            model(prompt, torch.zeros(1, dtype=torch.long), cache)
            model(prompt[:, :4].expand(8, 4), torch.zeros(8, dtype=torch.long), cache, 1)
            model.fused = using
            one = model(prompt[:, :1], five, cache)
            three = model(prompt[:, :3], five, cache, last_only=False, per_token=True)
            pair = model(prompt[0, :2].view(2, 1), torch.tensor([8, 4]), cache)
            nine = model(
                (torch.arange(9).view(9, 1) + 7) % model.args.vocab_size,
                torch.tensor([9, 5, *[4] * 7]),
                cache,
            )
            runs.append((one, three, pair, nine, cache.k, cache.v))
        same = all(torch.equal(a, b) for a, b in zip(*runs, strict=True))
    except (RuntimeError, ValueError) as exc:
        log.warning("fused decode: its check failed (%s); not used", exc)
        return False
    finally:
        model.fused = blocks if same else None
    if not same:
        log.warning("fused decode: it differs from the Python path on this build; not used")
    return same


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the C++ decode step.")
    parser.add_argument("--verbose", action="store_true", help="show the compiler's output")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        build(verbose=args.verbose)
    except FusedBuildError as exc:
        print(f"fused decode step: not built: {exc}", file=sys.stderr)
        return 1
    where = _library(default_directory())
    print(f"fused decode step: ready in {time.perf_counter() - started:.1f} s ({where})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Building and loading the C++ decode step (`csrc/decode_step.cpp`) as a torch extension.

It is compiled once per source, torch and Python version (~30 s on 2 cores, by
`python -m inference.fused`, which `make install` runs) into the user's cache directory;
`built()` loads it without compiling. Without a C++ compiler everything runs in Python.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import platform
import sys
import time
from pathlib import Path
from types import ModuleType

import torch
from platformdirs import user_cache_path

from inference.errors import InferenceError

log = logging.getLogger(__name__)

SOURCE = Path(__file__).parents[1] / "csrc" / "decode_step.cpp"
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


def library_path(directory: Path) -> Path:
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
    library = library_path(directory or default_directory())
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

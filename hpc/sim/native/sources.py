"""Which modules are compiled, where their builds live, and the tag that names a build.

The tag is a hash of every compiled module's `.py` and `.pxd` bytes, the build recipe,
Cython's version and the Python ABI: a build is used only under the tag of the sources it
was compiled from, so a stale one is never loaded (it is simply not found).
"""

from __future__ import annotations

import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

# The modules of the site replay's hot path (bench/simulate.py's profile), in `hpc.sim`.
MODULES = ("site_limits", "site_nodes", "site_reservations", "site_engine")
SIM_DIR = Path(__file__).resolve().parents[1]  # hpc/sim, where the sources are
# What `build` hands Cython; part of the tag. Annotations are not read as C types (a `.py`
# stays plain Python): every C type comes from a `.pxd`.
DIRECTIVES: dict[str, object] = {"language_level": 3, "annotation_typing": False}
CFLAGS = ("-O2", "-g0")
ENV_SWITCH = "SCHEDSIGHT_SIM_COMPILED"


def compiled_wanted() -> bool:
    """False when SCHEDSIGHT_SIM_COMPILED is 0 (or false/no/off): pure Python forced."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def cython_version() -> str | None:
    from importlib import metadata  # ~50 ms to import: only once a compiled module is asked for

    try:
        return metadata.version("cython")
    except metadata.PackageNotFoundError:
        return None


def extension_suffix() -> str:
    return EXTENSION_SUFFIXES[0]  # e.g. .cpython-311-x86_64-linux-gnu.so


def cache_root() -> Path:
    """$SCHEDSIGHT_CACHE_DIR/sim-native, else the user's cache (~/.cache/schedsight/...)."""
    base = os.environ.get("SCHEDSIGHT_CACHE_DIR")
    if base:
        return Path(base) / "sim-native"
    from platformdirs import user_cache_path

    return user_cache_path("schedsight") / "sim-native"


def read_sources(root: Path = SIM_DIR) -> dict[str, bytes]:
    """The bytes of each compiled module's `.py` and `.pxd` (file name -> bytes)."""
    out: dict[str, bytes] = {}
    for name in MODULES:
        for suffix in (".py", ".pxd"):
            path = root / f"{name}{suffix}"
            if path.exists():
                out[path.name] = path.read_bytes()
    return out


def tag_of(sources: dict[str, bytes], cython: str) -> str:
    """The tag of a build of `sources` by Cython `cython` for this Python."""
    import hashlib
    import platform

    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(name.encode() + b"\0" + sources[name] + b"\0")
    recipe = (repr(sorted(DIRECTIVES.items())), *CFLAGS, cython, sys.version,
              sys.implementation.cache_tag, extension_suffix(), platform.machine())  # fmt: skip
    for part in recipe:
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def source_tag(root: Path = SIM_DIR) -> str | None:
    """The tag of the sources under `root` now; None without Cython (nothing to match)."""
    cython = cython_version()
    return None if cython is None else tag_of(read_sources(root), cython)

"""The import hook that loads the compiled site-engine modules when they match the sources.

Installed by `hpc.sim` (cheaply: nothing is read until a compiled module is imported). On
the first import of one of `MODULES` it works out, once per process, whether the build of
the current sources exists; then either every one of them loads compiled or none does, so a
compiled module never meets a pure-Python one whose types it expects to be compiled.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from collections.abc import Sequence
from importlib.machinery import ExtensionFileLoader, ModuleSpec
from importlib.util import spec_from_file_location
from pathlib import Path
from types import ModuleType

from hpc.sim.native.sources import (
    MODULES,
    SIM_DIR,
    cache_root,
    compiled_wanted,
    extension_suffix,
    source_tag,
)

PACKAGE = "hpc.sim"
MANIFEST = "SHA256SUMS"  # in a build: each compiled module's SHA-256, as `sha256sum` writes it
log = logging.getLogger(__name__)


def digests(where: Path) -> str:
    """The manifest of the compiled modules in `where`, one `DIGEST  FILE` line each."""
    lines = []
    for name in MODULES:
        file = f"{name}{extension_suffix()}"
        lines.append(f"{hashlib.sha256((where / file).read_bytes()).hexdigest()}  {file}\n")
    return "".join(lines)


def build_complete(where: Path) -> bool:
    """Whether `where` holds every compiled module and their manifest."""
    files = [f"{name}{extension_suffix()}" for name in MODULES] + [MANIFEST]
    return all((where / file).is_file() for file in files)


def build_intact(where: Path) -> bool:
    """Whether every compiled module in `where` is as built (its manifest's digest): a
    truncated or damaged file is never loaded, where it could fail an import or crash."""
    try:
        intact = digests(where) == (where / MANIFEST).read_text()
    except OSError:
        intact = False
    if not intact:
        log.warning(
            "site engine: the compiled build in %s is damaged (a module differs from its "
            "manifest); the pure-Python modules run. Rebuild: python -m hpc.sim.native",
            where,
        )
    return intact


class CompiledFinder:
    """Finds `hpc.sim.<module>` for each of `MODULES` in the build of the current sources.
    (A meta path finder by its `find_spec` alone: importlib.abc costs ~30 ms to import.)"""

    def __init__(self, root: Path = SIM_DIR, cache: Path | None = None) -> None:
        self.root, self.cache = root, cache
        self.names = {f"{PACKAGE}.{name}": name for name in MODULES}
        self._where: Path | None = None
        self._decided = False

    def build_dir(self) -> Path | None:
        """The build matching the sources now, or None (decided once, on first use)."""
        if not self._decided:
            self._decided = True
            tag = source_tag(self.root) if compiled_wanted() else None
            if tag is not None:  # None: switched off, or no Cython to have built one
                cache = self.cache or cache_root()
                where = cache / tag
                if build_complete(where):
                    self._where = where if build_intact(where) else None
                elif _other_builds(cache, where):
                    log.warning(
                        "site engine: the compiled build is of other sources (they changed "
                        "since it was built, e.g. by a git pull); the pure-Python modules run, "
                        "several times slower. Rebuild: python -m hpc.sim.native (make install "
                        "does it)"
                    )
        return self._where

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        name = self.names.get(fullname)
        if name is None:
            return None
        where = self.build_dir()
        if where is None:
            return None
        library = where / f"{name}{extension_suffix()}"
        return spec_from_file_location(
            fullname, library, loader=ExtensionFileLoader(fullname, str(library))
        )


def _other_builds(cache: Path, current: Path) -> bool:
    """Whether `cache` holds a complete build other than `current`."""
    try:
        entries = list(cache.iterdir())
    except OSError:
        return False
    return any(e != current and e.is_dir() and build_complete(e) for e in entries)


def install() -> None:
    """Put the finder first on `sys.meta_path` (once)."""
    if not any(isinstance(f, CompiledFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, CompiledFinder())


def compiled(module: ModuleType) -> bool:
    """Whether `module` was loaded from a compiled build."""
    return str(getattr(module, "__file__", "")).endswith(extension_suffix())

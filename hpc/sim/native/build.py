"""Compiling the site engine's hot modules (`MODULES`) with Cython into the cache.

A build compiles a snapshot of the sources (so the tag names exactly what was compiled),
in a temporary directory beside its destination, and moves it into place whole: a build
directory is either complete or absent, even when two builds race or one is killed. Each
build (or finding one made) prunes the cache to the `KEEP` builds used most recently and
removes temporary directories left by killed builds.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from hpc.errors import NativeBuildError
from hpc.sim.native.finder import MANIFEST, PACKAGE, build_complete, digests
from hpc.sim.native.sources import (
    CFLAGS,
    DIRECTIVES,
    MODULES,
    SIM_DIR,
    cache_root,
    cython_version,
    extension_suffix,
    read_sources,
    tag_of,
)

KEEP = 4  # builds kept: this one and the three used before it (other checkouts, branches)
STALE_S = 3600.0  # a temporary build directory older than this was left by a killed build
_TAG = re.compile(r"[0-9a-f]{16}")


def build(root: Path = SIM_DIR, cache: Path | None = None, *, verbose: bool = False) -> Path:
    """Compile the modules under `root` unless already built; the build's directory.
    Raises NativeBuildError when Cython or a C compiler is missing or compiling fails."""
    cython = cython_version()
    if cython is None:
        raise NativeBuildError("Cython is not installed (pip install 'schedsight[dev]')")
    sources = read_sources(root)
    cache = cache or cache_root()
    final = cache / tag_of(sources, cython)
    if build_complete(final):
        with contextlib.suppress(OSError):  # a read-only cache still serves its build
            os.utime(final)  # used now: pruning keeps the builds used most recently
            prune(cache, final)
        return final
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="build-", dir=cache) as tmp:
        work = Path(tmp)
        package = work / "src" / Path(*PACKAGE.split("."))
        package.mkdir(parents=True)
        for folder in (package, package.parent):
            (folder / "__init__.py").touch()  # so Cython names the modules hpc.sim.*
        for name, data in sources.items():
            (package / name).write_bytes(data)
        out = work / "out"
        log = io.StringIO()
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                _compile(work, package, out)
        except Exception as exc:  # the compiler's own errors, of many kinds
            if verbose:
                print(log.getvalue())
            raise NativeBuildError(f"compiling the site engine failed: {exc}") from exc
        if verbose:
            print(log.getvalue())
        built = out / Path(*PACKAGE.split("."))
        done = work / "done"
        done.mkdir()
        for name in MODULES:
            found = sorted(built.glob(f"{name}.*{extension_suffix()}")) or sorted(
                built.glob(f"{name}{extension_suffix()}")
            )
            if not found:
                raise NativeBuildError(f"compiling the site engine made no {name} module")
            shutil.copy2(found[0], done / f"{name}{extension_suffix()}")
        (done / MANIFEST).write_text(digests(done))
        if final.exists() and not build_complete(final):
            shutil.rmtree(final, ignore_errors=True)  # a build without its manifest (older)
        try:
            os.replace(done, final)  # whole, or not at all
        except OSError:
            if not build_complete(final):  # not a build that won a race
                raise
    prune(cache, final)
    return final


def prune(cache: Path, current: Path, keep: int = KEEP) -> list[Path]:
    """Remove all but the `keep` most recently used builds in `cache` (never `current`) and
    temporary build directories older than `STALE_S`; what was removed. Only directories
    named as builds are touched; one that vanishes meanwhile (another prune) is skipped."""
    now, removed = time.time(), []
    builds: list[tuple[float, Path]] = []
    for entry in cache.iterdir():
        try:
            mtime = entry.stat().st_mtime
        except FileNotFoundError:
            continue
        if entry.is_dir() and _TAG.fullmatch(entry.name) and entry != current:
            builds.append((mtime, entry))
        elif entry.is_dir() and entry.name.startswith("build-") and now - mtime > STALE_S:
            removed.append(entry)
    builds.sort(reverse=True)
    removed += [path for _, path in builds[max(keep - 1, 0) :]]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def _compile(work: Path, package: Path, out: Path) -> None:
    """Cython to C, then C to shared libraries (setuptools' build_ext, all cores)."""
    from Cython.Build import cythonize

    # Typed or not depending on its version: used as the untyped module it is at run time.
    setuptools = importlib.import_module("setuptools")

    extensions = [
        setuptools.Extension(
            f"{PACKAGE}.{name}", [str(package / f"{name}.py")], extra_compile_args=[*CFLAGS]
        )
        for name in MODULES
    ]
    modules = cythonize(  # type: ignore[no-untyped-call]
        extensions,
        build_dir=str(work / "c"),
        include_path=[str(work / "src")],
        compiler_directives=DIRECTIVES,
        quiet=True,
        force=True,
    )
    dist = setuptools.Distribution({"ext_modules": modules})
    command = dist.get_command_obj("build_ext")
    command.build_lib = str(out)
    command.build_temp = str(work / "obj")
    command.parallel = os.cpu_count() or 1
    command.ensure_finalized()
    command.run()

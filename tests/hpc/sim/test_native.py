"""The compiled site engine: built from the sources as they are, loaded only while they are
unchanged, pure Python on request, and giving the very same replay as the `.py` modules."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hpc.errors import NativeBuildError
from hpc.sim.native import MODULES, cache_root, source_tag
from hpc.sim.native.finder import MANIFEST, CompiledFinder, build_complete, digests
from hpc.sim.native.sources import SIM_DIR, extension_suffix

pytest.importorskip("Cython")

ROOT = Path(__file__).resolve().parents[3]

# Replays a small generated workload under several policies and prints, per policy, a hash
# of every job's start, end, reason and placement; then where each compiled module came from.
REPLAY = """
import hashlib, sys
import numpy as np
from hpc.sim import Policy
from hpc.sim.site_engine import simulate_site
from hpc.sim.site_workload import generated_workload
import hpc.sim.native as native
site, jobs, demand = generated_workload(3000, seed=5)
for text in ("fcfs:none", "fcfs:easy", "fcfs:conservative", "multifactor:easy"):
    r = simulate_site(jobs, site, Policy.parse(text), demand)
    h = hashlib.sha256()
    h.update(r.result.start_s.tobytes() + r.result.end_s.tobytes() + r.result.state.tobytes())
    h.update("|".join(r.reasons).encode())
    for p in r.placements:
        h.update(b"-" if p is None else b"".join(np.asarray(a).tobytes() for a in
                 (p.nodes, p.cores, p.gpus, p.mem_mb)))
    print(text, h.hexdigest())
for name in native.MODULES:
    print("file", sys.modules["hpc.sim." + name].__file__)
"""


def _run(code: str, compiled: bool) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCHEDSIGHT_SIM_COMPILED": str(int(compiled))}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


@pytest.fixture(autouse=True)
def _compiled_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests say which path they want (the suite may run with pure Python forced)."""
    monkeypatch.delenv("SCHEDSIGHT_SIM_COMPILED", raising=False)


@pytest.fixture(scope="module")
def built() -> Path:
    """The build of the current sources (made once per machine; `make install` makes it)."""
    from hpc.sim.native.build import build

    return build()


def _copy_sources(to: Path) -> None:
    for name in MODULES:
        for suffix in (".py", ".pxd"):
            if (SIM_DIR / f"{name}{suffix}").exists():
                shutil.copy(SIM_DIR / f"{name}{suffix}", to)


def test_the_build_holds_every_module_under_the_sources_tag(built: Path) -> None:
    assert build_complete(built)
    assert built == cache_root() / str(source_tag())
    assert sorted(p.name for p in built.iterdir()) == sorted(
        [f"{name}{extension_suffix()}" for name in MODULES] + [MANIFEST]
    )
    assert (built / MANIFEST).read_text() == digests(built)


@pytest.mark.slow
def test_both_paths_replay_identically_and_each_loads_what_it_says(built: Path) -> None:
    compiled = _run(REPLAY, compiled=True)
    pure = _run(REPLAY, compiled=False)
    assert [line for line in compiled if not line.startswith("file")] == [
        line for line in pure if not line.startswith("file")
    ]
    files = [line.split(" ", 1)[1] for line in compiled if line.startswith("file")]
    assert len(files) == len(MODULES)
    assert all(f.endswith(".so") and f.startswith(str(built)) for f in files)
    pure_files = [line.split(" ", 1)[1] for line in pure if line.startswith("file")]
    assert all(f.endswith(".py") and f.startswith(str(SIM_DIR)) for f in pure_files)


def test_an_edited_source_is_never_matched_by_an_old_build(
    built: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _copy_sources(tmp_path)
    finder = CompiledFinder(root=tmp_path)
    with caplog.at_level("WARNING"):
        spec = finder.find_spec("hpc.sim.site_engine")
    assert spec is not None and str(spec.origin).endswith(".so")
    assert not caplog.text
    with (tmp_path / "site_nodes.py").open("a") as f:
        f.write("\n# edited\n")
    assert source_tag(tmp_path) != source_tag()
    with caplog.at_level("WARNING"):  # as after a git pull: said once, not silently slower
        assert CompiledFinder(root=tmp_path).find_spec("hpc.sim.site_engine") is None
    assert "other sources" in caplog.text and "python -m hpc.sim.native" in caplog.text


def test_a_pxd_edit_changes_the_tag(tmp_path: Path) -> None:
    _copy_sources(tmp_path)
    before = source_tag(tmp_path)
    with (tmp_path / "site_limits.pxd").open("a") as f:
        f.write("\n# edited\n")
    assert source_tag(tmp_path) != before


def test_without_a_build_or_when_switched_off_the_finder_finds_nothing(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert CompiledFinder(cache=tmp_path).find_spec("hpc.sim.site_nodes") is None
    assert CompiledFinder().find_spec("hpc.sim.engine") is None  # not a compiled module
    monkeypatch.setenv("SCHEDSIGHT_SIM_COMPILED", "0")
    assert CompiledFinder().find_spec("hpc.sim.site_nodes") is None
    monkeypatch.setenv("SCHEDSIGHT_SIM_COMPILED", "1")
    assert CompiledFinder().find_spec("hpc.sim.site_nodes") is not None


def test_a_damaged_build_is_passed_over_for_the_pure_modules(
    built: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(built, cache / built.name)
    assert CompiledFinder(cache=cache).find_spec("hpc.sim.site_nodes") is not None
    library = cache / built.name / f"site_limits{extension_suffix()}"
    library.write_bytes(library.read_bytes()[:4096])  # truncated, as by a full disk
    assert build_complete(cache / built.name)
    with caplog.at_level("WARNING"):
        assert CompiledFinder(cache=cache).find_spec("hpc.sim.site_nodes") is None
    assert "damaged" in caplog.text and "python -m hpc.sim.native" in caplog.text


def test_a_failed_build_raises_one_clear_error_and_leaves_no_build(tmp_path: Path) -> None:
    from hpc.sim.native.build import build

    sources = tmp_path / "src"
    sources.mkdir()
    _copy_sources(sources)
    with (sources / "site_limits.pxd").open("a") as f:
        f.write("\ncdef class (\n")
    cache = tmp_path / "cache"
    with pytest.raises(NativeBuildError, match="compiling the site engine failed"):
        build(sources, cache)
    assert not [p for p in cache.iterdir() if not p.name.startswith("build-")]
    assert CompiledFinder(root=sources, cache=cache).find_spec("hpc.sim.site_limits") is None


def test_pruning_keeps_the_builds_used_last_and_drops_dead_temporaries(tmp_path: Path) -> None:
    from hpc.sim.native.build import STALE_S, prune

    builds = []
    for i in range(6):  # six builds, used at t = 1000 .. 6000
        path = tmp_path / f"{i:016x}"
        path.mkdir()
        os.utime(path, (1000.0 * (i + 1), 1000.0 * (i + 1)))
        builds.append(path)
    current = builds[0]  # the oldest, but the one in use now
    dead = tmp_path / "build-killed"
    dead.mkdir()
    os.utime(dead, (0.0, 0.0))
    live = tmp_path / "build-running"
    live.mkdir()  # a build under way (new): kept
    other = tmp_path / "not-a-build"
    other.mkdir()
    removed = prune(tmp_path, current, keep=3)
    assert sorted(removed) == sorted([dead, *builds[1:4]])
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([current.name, builds[4].name, builds[5].name, live.name, other.name])
    assert STALE_S >= 600  # a slow build is not taken for a dead one

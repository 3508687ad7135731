"""The site replay's hot modules compiled with Cython, from their own `.py` sources.

`python -m hpc.sim.native` (which `make install` runs) compiles the modules of `MODULES`
as they are, typed by the `.pxd` files beside them ("pure Python mode"), into the user's
cache directory, under a tag that changes with the sources, the `.pxd` files, Cython's
version and the Python ABI. The finder that `hpc.sim` installs loads them from there only
when the tag of the sources on disk matches, so an edited `.py` never runs stale code;
otherwise, or with SCHEDSIGHT_SIM_COMPILED=0, the `.py` modules load as usual.
"""

from __future__ import annotations

from hpc.sim.native.sources import MODULES, cache_root, compiled_wanted, source_tag

__all__ = ["MODULES", "cache_root", "compiled_wanted", "source_tag"]

"""Slurm host lists (`n[1-3,7],gpu01`, `r[1-2]n[01-02]`) expanded into node names.

Read by python-hostlist, the maintained library the Slurm community uses for exactly this
(several bracket groups per name, zero padding, ranges and lists), so that whatever a
site's node names look like, schedsight reads them as Slurm writes them.
"""

from __future__ import annotations

import hostlist as _library

from hpc.slurm.errors import SlurmDataError


def expand_hostlist(expr: str) -> list[str]:
    """`n[1-3,05]` -> ["n1", "n2", "n3", "n05"]; `r[1-2]n[01-02]` -> r1n01, r1n02, r2n01, r2n02."""
    expr = expr.strip()
    if not expr:
        return []
    try:
        names: list[str] = _library.expand_hostlist(expr)
    except _library.BadHostlist as exc:
        raise SlurmDataError(f"cannot read host list {expr!r}: {exc}") from exc
    return names

"""Slurm host lists (`n[1-3,7],gpu01`) expanded into node names."""

from __future__ import annotations

import re

from hpc.slurm.errors import SlurmDataError

_PART = re.compile(r"([^,\[]+)(?:\[([^\]]+)\])?([^,\[]*)")


def expand_hostlist(expr: str) -> list[str]:
    """`n[1-3,05]` -> ["n1", "n2", "n3", "n05"]; leading zeros are kept per range."""
    names: list[str] = []
    pos = 0
    expr = expr.strip()
    while pos < len(expr):
        match = _PART.match(expr, pos)
        if match is None:
            raise SlurmDataError(f"cannot read host list {expr!r} at position {pos}")
        prefix, ranges, suffix = match.groups()
        if ranges is None:
            names.append(prefix + suffix)
        else:
            for piece in ranges.split(","):
                first, _, last = piece.partition("-")
                if not first.isdigit() or (last and not last.isdigit()):
                    raise SlurmDataError(f"cannot read host range {piece!r} in {expr!r}")
                width = len(first)
                for i in range(int(first), int(last or first) + 1):
                    names.append(f"{prefix}{i:0{width}d}{suffix}")
        pos = match.end()
        if pos < len(expr) and expr[pos] == ",":
            pos += 1
    return names

"""`python -m hpc.sim.native`: compile the site engine's hot modules now (`make install`
runs it); without Cython or a C compiler it says so in one line and the replay runs in
pure Python.
"""

from __future__ import annotations

import argparse
import sys
import time

from hpc.errors import NativeBuildError
from hpc.sim.native.build import build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hpc.sim.native", description="Compile the site replay's hot modules."
    )
    parser.add_argument(
        "--verbose", action="store_true", help="show Cython's and the compiler's output"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        where = build(verbose=args.verbose)
    except (NativeBuildError, OSError) as exc:  # OSError: the cache directory not writable
        print(f"site engine: not compiled ({exc}); the pure-Python modules run", file=sys.stderr)
        return 1
    print(f"site engine: compiled modules ready in {time.perf_counter() - started:.1f} s ({where})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

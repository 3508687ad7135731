"""`python -m inference.fused`: build the C++ decode step now (`make install` runs it), so
that no engine compiles it in the background on its first start.
"""

from __future__ import annotations

import argparse
import sys
import time

from inference.fused.extension import FusedBuildError, build, default_directory, library_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inference.fused", description="Build the C++ decode step."
    )
    parser.add_argument("--verbose", action="store_true", help="show the compiler's output")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        build(verbose=args.verbose)
    except FusedBuildError as exc:
        print(f"fused decode step: not built: {exc}", file=sys.stderr)
        return 1
    where = library_path(default_directory())
    print(f"fused decode step: ready in {time.perf_counter() - started:.1f} s ({where})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

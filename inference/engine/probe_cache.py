"""The width probe's result kept on disk, so a server starts without probing again.

The probe (`speculation.probe_widths`) runs ~25 forwards at start: about half of a CPU
server's start-up for the 135M model. Its answer (which verification widths reproduce
single-token logits) depends only on the model file and how the model is built and run, so
it is stored once per build under the user's cache directory, keyed by everything the
numerics depend on: the model file (path, size, modification time), the weights as built,
dtype, device (and GPU name), torch and Python versions, the thread count, the C++ decode
step (its module name changes with its source and flags), the CPU model, the probe's draft
width and tolerance. Anything else changed is a new key, hence a new probe. A missing,
unreadable or malformed entry is probed again and rewritten; the cache can never fail a
start. The stored step times are the engine's first guess only: `StepCosts` follows the
measured ones from the first verification on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from platformdirs import user_cache_path

from inference.engine.speculation import NOISE_TOLERANCE, WidthProbe

log = logging.getLogger(__name__)

FORMAT = 1  # bump when WidthProbe's stored form changes


def default_directory() -> Path:
    return user_cache_path("schedsight") / "probe"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def probe_key(source: str, *, build: dict[str, str], device: torch.device) -> str:
    """The cache key of one build of one model file (`build`: weights, dtype, fused ...)."""
    path = Path(source)
    try:
        st = path.stat()
        file_part = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    except OSError:
        file_part = f"{source}|missing"
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else ""
    parts = [
        f"format={FORMAT}",
        file_part,
        *(f"{k}={v}" for k, v in sorted(build.items())),
        f"device={device.type}|{gpu}",
        f"torch={torch.__version__}",
        f"python={sys.version}",
        f"threads={torch.get_num_threads()}",
        f"cpu={_cpu_model()}",
        f"tolerance={NOISE_TOLERANCE}",
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def _decode(raw: str) -> WidthProbe:
    data = json.loads(raw)
    if data.get("format") != FORMAT:
        raise ValueError("another format")
    widths = frozenset(int(w) for w in data["widths"])
    seconds = tuple((int(w), float(s)) for w, s in data["seconds"])
    return WidthProbe(widths, float(data["noise"]), seconds)


def _encode(probe: WidthProbe) -> str:
    return json.dumps(
        {
            "format": FORMAT,
            "widths": sorted(probe.widths),
            "noise": probe.noise,
            "seconds": [list(p) for p in probe.seconds],
        }
    )


def cached_probe(
    key: str, probe: Callable[[], WidthProbe], directory: Path | None = None
) -> tuple[WidthProbe, bool]:
    """The stored probe under `key`, else `probe()` stored there; and whether it was stored."""
    where = (directory or default_directory()) / f"{key}.json"
    try:
        return _decode(where.read_text(encoding="utf-8")), True
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("speculation: probing again, the stored probe %s is unusable (%s)", where, exc)
    found = probe()
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        tmp = where.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(_encode(found), encoding="utf-8")
        tmp.replace(where)  # atomic: a concurrent start reads the old file or the new one
    except OSError as exc:
        log.warning("speculation: could not store the probe in %s (%s)", where, exc)
    return found, False

"""What a finished run reports: device per rank, kernel time and the output check, read from
the `schedsight-*` lines the examples print (any program may print them to be measured).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

_DEVICE = re.compile(r"^schedsight-device rank=(\d+): (gpu|host)\s*$", re.MULTILINE)
_KERNEL = re.compile(r"^schedsight-kernel-s: ([0-9.eE+-]+)\s*$", re.MULTILINE)
_CHECK = re.compile(r"^schedsight-check: (ok|FAIL)\b(.*)$", re.MULTILINE)


class Device(Enum):
    GPU = "gpu"  # every rank ran its target regions on a GPU
    HOST = "host"  # every rank fell back to the host
    MIXED = "mixed"  # some ranks on a GPU, some on the host
    UNKNOWN = "unknown"  # the program did not say


@dataclass(frozen=True, slots=True)
class RunReport:
    device: Device
    ranks_reporting: int
    kernel_s: float | None  # the program's own timing of its offloaded part (slowest rank)
    check_ok: bool | None  # None: no check line at all
    check_detail: str


def read_report(output: str) -> RunReport:
    devices = {int(rank): where for rank, where in _DEVICE.findall(output)}
    kinds = set(devices.values())
    if not kinds:
        device = Device.UNKNOWN
    elif len(kinds) == 2:
        device = Device.MIXED
    else:
        device = Device(kinds.pop())
    kernels = [float(v) for v in _KERNEL.findall(output)]
    checks = _CHECK.findall(output)
    check_ok = all(v == "ok" for v, _ in checks) if checks else None
    detail = "; ".join(f"{v}{rest}".strip() for v, rest in checks) or "no schedsight-check line"
    return RunReport(device, len(devices), max(kernels) if kernels else None, check_ok, detail)

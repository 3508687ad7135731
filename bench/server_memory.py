"""Huge prompts against a real `schedsight serve-llm`: the server's RSS before and after, and
how long /health takes meanwhile (issue 20, probe 3: three 50 MB prompts once blocked
/health for 39 s and grew the server by 1.2 GB for good).

Starts the server as a subprocess on a free localhost port, sends N prompts of M MB (with
Content-Length, then chunked), polls /health every 0.2 s, and prints the figures. The
acceptance is RSS after within 100 MB of RSS before.

    python bench/server_memory.py [--prompts 3] [--mb 50]
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/inference.py would shadow the `inference` package: keep this folder off the path.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import json
import os
import platform
import subprocess
import threading
import time
from collections.abc import Iterator

import httpx

from inference.serve.launcher import free_port


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=3)
    parser.add_argument("--mb", type=int, default=50)
    args = parser.parse_args()
    port = free_port()
    exe = Path(sys.executable).with_name("schedsight")
    cmd = [str(exe), "serve-llm", "--port", str(port), "--max-seq-len", "2048"]
    server = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        model = httpx.get(f"{base}/v1/models").json()["data"][0]["id"]
        before = rss_mb(server.pid)
        worst = [0.0]
        stop = threading.Event()

        def poll() -> None:
            while not stop.is_set():
                t0 = time.perf_counter()
                httpx.get(f"{base}/health", timeout=120)
                worst[0] = max(worst[0], time.perf_counter() - t0)
                time.sleep(0.2)

        poller = threading.Thread(target=poll)
        poller.start()
        text = "word " * (args.mb * 2**20 // 5)
        body = json.dumps({"model": model, "messages": [{"role": "user", "content": text}]})
        raw = body.encode()
        del text, body

        def chunks() -> Iterator[bytes]:
            for i in range(0, len(raw), 2**16):
                yield raw[i : i + 2**16]

        for i in range(args.prompts):
            t0 = time.perf_counter()
            content = raw if i % 2 == 0 else chunks()  # Content-Length, then chunked
            r = httpx.post(f"{base}/v1/chat/completions", content=content, timeout=300)
            how = "content-length" if i % 2 == 0 else "chunked"
            print(f"prompt {i + 1} ({args.mb} MB, {how}): HTTP {r.status_code} "
                  f"in {time.perf_counter() - t0:.2f} s: {r.json()['error']['code']}")  # fmt: skip
        stop.set()
        poller.join()
        time.sleep(1)
        after = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(30)
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"server RSS before {before:.0f} MB, after {after:.0f} MB (+{after - before:.0f} MB)")
    print(f"slowest /health meanwhile: {worst[0] * 1000:.0f} ms")
    return 0 if after - before <= 100 else 1


if __name__ == "__main__":
    raise SystemExit(main())

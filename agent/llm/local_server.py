"""The default model: start `schedsight serve-llm` on a free localhost port when none is set.

The agent talks to every server over HTTP, this one included, so it never imports the
inference engine; the server runs in its own process (its own cores, its own GIL).
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import httpx

from agent.errors import LLMUnavailable
from agent.llm.config import LLMConfig

START_TIMEOUT_S = 180.0
POLL_S = 0.1  # between health checks while the server starts


def server_threads() -> int:
    """The local server's CPU threads: one core is left to the agent's own process.

    The agent imports, replays and talks to the server beside it, and other work shares the
    machine: OpenMP threads that outnumber the free cores wait on each other at every
    parallel region. With a core taken (2-core AMD EPYC, AVX2), a 210-token prefill of the
    embedded model took 6.5-7.5 s on 2 threads and 0.9 s on 1, a decode step 260 ms and 75 ms;
    on an idle machine 2 threads gain only 0.4-0.5 s on the same prefill.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


@contextmanager
def llm_endpoint(
    config: LLMConfig, *, speculate: bool = True, abandon: threading.Event | None = None
) -> Iterator[LLMConfig]:
    """`config` itself when it names a server; else one started here and stopped on exit.

    `abandon`, set from another thread while the server starts: the start is given up (the
    process stopped, `LLMUnavailable` raised) instead of waited for, for a caller that found
    it cannot go on meanwhile.

    `speculate=False` starts the server without prompt-lookup speculation, for callers whose
    replies are a few tokens of constrained JSON (`agent ask`'s reading): drafts there are
    rarely kept, a verification costs 2-3 plain steps, and the server then skips the width
    probe of a first start (`inference/engine/probe_cache.py`, ~26 forwards).
    """
    if config.base_url:
        yield config
        return
    port = _free_port()
    command = [sys.executable, "-m", "schedsight", "serve-llm", "--port", str(port)]
    # --dtype auto: float32 on a CPU that emulates bf16 (AVX2 only), where the reading's
    # prefill ran 2x faster in CPU time; bf16 (int4 blocks) where the CPU runs it natively.
    command += ["--host", "127.0.0.1", "--max-seq-len", "2048", "--dtype", "auto"]
    command += ["--threads", str(server_threads())]
    if not speculate:
        command += ["--draft-tokens", "0"]
    env = dict(os.environ)
    env.pop("SCHEDSIGHT_LLM_API_KEY", None)  # a private server needs no key
    # A file, not a pipe: a chatty server must never block on a full pipe.
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=log, env=env, text=True
        )
        try:
            _wait_healthy(process, log, f"http://127.0.0.1:{port}", abandon)
            yield dataclasses.replace(config, base_url=f"http://127.0.0.1:{port}/v1")
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(
    process: subprocess.Popen[str], log: IO[str], base: str, abandon: threading.Event | None
) -> None:
    """Poll `/health` until the server answers. One HTTP client for every poll: `httpx.get`
    builds a client, TLS context included, each time (~60 ms of CPU: ~2 s over a start on
    2 cores, taken from the server's own start)."""
    stop = abandon or threading.Event()
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(timeout=1.0) as http:
        while time.monotonic() < deadline:
            if stop.is_set():
                raise LLMUnavailable("the local LLM server's start was abandoned")
            if process.poll() is not None:
                log.seek(0)
                tail = log.read()[-600:]
                raise LLMUnavailable(f"the local LLM server exited ({process.returncode}): {tail}")
            try:
                if http.get(f"{base}/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            stop.wait(POLL_S)
    raise LLMUnavailable(
        f"the local LLM server did not become healthy in {START_TIMEOUT_S:.0f} s; "
        "set SCHEDSIGHT_LLM_BASE_URL to a running server instead"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

"""The engine's one thread: it builds the model, then, once started, serves until stopped.

One thread does all of the model's work, its build included: OpenMP keeps a pool of worker
threads per thread that runs parallel code, and with more pool threads than cores GNU OpenMP
stops spinning between regions (decode ran 2x slower when the weights were built on the
caller's thread and run on this one).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

STOP_WAIT_S = 30  # how long `join` waits for the step in progress to end


class EngineThread:
    """Runs `build` on a new thread and returns when it is done (raising what it raised);
    runs `serve` there after `start`."""

    def __init__(self, build: Callable[[], None], serve: Callable[[], None]) -> None:
        self._started = threading.Event()
        built: list[BaseException | None] = []
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(build, serve, built, ready), name="llm-engine", daemon=True
        )
        self._thread.start()
        ready.wait()
        if built[0] is not None:
            raise built[0]

    def start(self) -> None:
        self._started.set()

    def join(self) -> None:
        """Wait for `serve` to return (it must have been told to); unstarted, it returns at once."""
        self._started.set()
        self._thread.join(timeout=STOP_WAIT_S)

    def _run(
        self,
        build: Callable[[], None],
        serve: Callable[[], None],
        built: list[BaseException | None],
        ready: threading.Event,
    ) -> None:
        try:
            build()
        except BaseException as exc:  # handed to the constructor, which raises it
            built.append(exc)
            ready.set()
            return
        built.append(None)
        ready.set()
        self._started.wait()
        serve()

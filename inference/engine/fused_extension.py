"""The engine's use of the C++ decode step: attached at start-up when it is already built,
else compiled in the background while decoding runs in Python, and attached at the first
step after the build finishes. A build or an attach that fails leaves the model in Python.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from types import ModuleType

import torch

from inference.fused import blocks, extension
from inference.model.transformer import Transformer

log = logging.getLogger(__name__)


class FusedExtension:
    """Attaches the compiled blocks to one model, now or once they are built."""

    def __init__(self) -> None:
        self.pending: Future[ModuleType] | None = None  # compiling in the background

    def start(self, model: Transformer) -> None:
        """Use the C++ blocks now if built; else build them in the background (`poll`
        attaches them when ready) while decoding runs in Python."""
        if not blocks.supports(model):
            return
        module = extension.built()
        if module is not None:
            self._attach(model, module)
            return
        future: Future[ModuleType] = Future()

        def build() -> None:
            try:
                future.set_result(extension.build())
            except BaseException as exc:  # the future always finishes; `poll` logs it
                future.set_exception(exc)

        log.info("fused decode: compiling the C++ blocks in the background (~30 s, once)")
        threading.Thread(target=build, name="fused-build", daemon=True).start()
        self.pending = future

    def poll(self, model: Transformer) -> None:
        """Attach the blocks if their background build has just finished (on the engine
        thread, between steps)."""
        future = self.pending
        if future is None or not future.done():
            return
        self.pending = None
        try:
            module = future.result()
        except Exception as exc:
            log.warning("fused decode: off: %s", exc)
            return
        self._attach(model, module)

    @staticmethod
    def _attach(model: Transformer, module: ModuleType) -> None:
        try:
            with torch.inference_mode():
                used = blocks.attach(model, module)
        except Exception:  # a broken extension must not stop the engine: Python still runs
            log.exception("fused decode: off: attaching the C++ blocks failed")
            model.fused = None
            return
        log.info("fused decode: %s", "on" if used else "off (see the warning above)")

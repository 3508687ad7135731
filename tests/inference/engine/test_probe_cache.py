"""The width probe stored per build: probed once, read back the same, probed again when the
entry is unusable or anything in the key changes."""

from __future__ import annotations

from pathlib import Path

import torch

from inference.engine.probe_cache import cached_probe, probe_key
from inference.engine.speculation import WidthProbe

PROBE = WidthProbe(frozenset({2, 3, 5}), 0.00025, ((1, 0.01), (2, 0.012), (5, 0.02)))
CPU = torch.device("cpu")
BUILD = {"weights": "int4", "dtype": "bfloat16", "fused": "off", "max_width": "7"}


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> WidthProbe:
        self.calls += 1
        return PROBE


def test_probed_once_then_read_back_the_same(tmp_path: Path) -> None:
    probe = Counting()
    first, stored = cached_probe("k", probe, tmp_path)
    assert (first, stored, probe.calls) == (PROBE, False, 1)
    again, stored = cached_probe("k", probe, tmp_path)
    assert (again, stored, probe.calls) == (PROBE, True, 1)


def test_an_unusable_entry_is_probed_again_and_rewritten(tmp_path: Path) -> None:
    probe = Counting()
    for broken in ("not json", '{"format": 1, "widths": [2]}', '{"format": 99}'):
        (tmp_path / "k.json").write_text(broken)
        assert cached_probe("k", probe, tmp_path) == (PROBE, False)
        assert cached_probe("k", probe, tmp_path) == (PROBE, True)
    assert probe.calls == 3


def test_the_key_follows_the_file_and_the_build(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"x" * 10)
    key = probe_key(str(model), build=BUILD, device=CPU)
    assert key == probe_key(str(model), build=dict(BUILD), device=CPU)
    assert key != probe_key(str(model), build={**BUILD, "fused": "schedsight_decode_x"}, device=CPU)
    assert key != probe_key(str(model), build={**BUILD, "dtype": "float32"}, device=CPU)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(threads + 1)
        assert key != probe_key(str(model), build=BUILD, device=CPU)
    finally:
        torch.set_num_threads(threads)
    model.write_bytes(b"y" * 11)  # another file at the same path
    assert key != probe_key(str(model), build=BUILD, device=CPU)

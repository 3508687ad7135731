"""The local server the agent starts when no LLM endpoint is configured: its thread count,
and a start given up from another thread."""

from __future__ import annotations

import os
import threading
import time

import pytest

from agent.errors import LLMUnavailable
from agent.llm.config import LLMConfig
from agent.llm.local_server import llm_endpoint, server_threads


def test_the_server_leaves_one_core_to_the_agent() -> None:
    cores = len(os.sched_getaffinity(0))
    assert server_threads() == max(1, cores - 1)


def test_an_abandoned_start_stops_the_server_at_once() -> None:
    abandon = threading.Event()
    abandon.set()
    t0 = time.monotonic()
    with (
        pytest.raises(LLMUnavailable, match="abandoned"),
        llm_endpoint(LLMConfig(), abandon=abandon),
    ):
        pytest.fail("an abandoned start yields no endpoint")
    assert time.monotonic() - t0 < 5  # the process is stopped, not waited for (~6 s)


def test_a_configured_server_is_used_as_it_is() -> None:
    config = LLMConfig(base_url="http://llm.test/v1")
    with llm_endpoint(config, speculate=False, abandon=threading.Event()) as endpoint:
        assert endpoint == config

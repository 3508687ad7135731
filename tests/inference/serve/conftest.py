"""Fixtures shared by the server's test modules: each module starts its own `server`
(config and body limit of its own); the client and the model name follow it."""

from __future__ import annotations

import openai
import pytest

from inference.engine.engine import Engine


@pytest.fixture(scope="module")
def client(server: tuple[str, Engine]) -> openai.OpenAI:
    return openai.OpenAI(base_url=server[0], api_key="unused", max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def model(client: openai.OpenAI) -> str:
    return client.models.list().data[0].id

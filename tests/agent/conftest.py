"""Fixtures: an LLM client whose replies are recorded (a MockTransport), and the real one."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest

from agent.llm.client import LLMClient, LLMConfig

Reply = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]


def content(text: str) -> dict[str, Any]:
    """A recorded chat completion with `text` as the assistant's content."""
    return _completion({"role": "assistant", "content": text}, "stop")


def tool_calls(*calls: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """A recorded chat completion that calls tools."""
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": f"call_{k}", "type": "function",
             "function": {"name": name, "arguments": json.dumps(args)}}
            for k, (name, args) in enumerate(calls)
        ],
    }  # fmt: skip
    return _completion(message, "tool_calls")


def _completion(message: dict[str, Any], finish: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "recorded",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
    }


class Recorded:
    """Replies served in order (the last one repeats); the requests that were sent."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = replies
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
        data = reply(body) if callable(reply) else reply
        return httpx2.Response(200, json=data)


@pytest.fixture
def recorded() -> Callable[[list[Reply]], tuple[LLMClient, Recorded]]:
    def make(replies: list[Reply]) -> tuple[LLMClient, Recorded]:
        handler = Recorded(replies)
        client = LLMClient(
            LLMConfig(base_url="http://llm.test/v1", model="recorded", max_retries=0),
            http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        )
        return client, handler

    return make


@pytest.fixture(scope="session")
def real_llm() -> Iterator[LLMClient]:
    """The embedded model on a real local server (in process, as the inference tests do)."""
    from inference.config import EngineConfig
    from inference.serve.launcher import running_server

    with running_server(EngineConfig(max_seq_len=2048)) as (url, _engine):
        client = LLMClient(LLMConfig(base_url=url, timeout_s=120, max_retries=0))
        yield client
        client.close()

"""The agent's one door to a language model: the official `openai` client, any compatible server.

Structured replies are JSON-schema constrained where the server supports it and always
validated with Pydantic here; an invalid reply gets one repair attempt that shows the model
its validation error, then `LLMOutputInvalid` tells the caller to fall back. Every call's
tokens and wall time are counted in `Usage`.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field, fields
from typing import Any, Generic, TypeVar

import openai
from pydantic import BaseModel, ValidationError

from agent.errors import LLMOutputInvalid, LLMUnavailable
from agent.llm.config import LLMConfig as LLMConfig  # its home before agent.llm.config

T = TypeVar("T", bound=BaseModel)
Message = dict[str, Any]


@dataclass(slots=True)
class Usage:
    """Counters over every call made through one client (safe across threads)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0
    repairs: int = 0
    failures: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, prompt: int, completion: int, wall_s: float) -> None:
        with self._lock:
            self.calls += 1
            self.prompt_tokens += prompt
            self.completion_tokens += completion
            self.wall_s += wall_s

    def as_dict(self) -> dict[str, float | int]:
        # Not `asdict`: it deep-copies every field, and a lock cannot be copied.
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "_lock"}

    def snapshot(self) -> tuple[int, int, int]:
        """(calls, prompt tokens, completion tokens) so far, to diff around one decision."""
        return self.calls, self.prompt_tokens, self.completion_tokens


@dataclass(frozen=True, slots=True)
class Reply(Generic[T]):
    """A validated structured reply and what it cost."""

    value: T
    raw: str
    prompt_tokens: int
    completion_tokens: int
    wall_s: float
    repaired: bool


@dataclass(frozen=True, slots=True)
class ToolCallReply:
    """What the model asked for: tool calls (name, JSON arguments) and any text."""

    content: str
    calls: tuple[tuple[str, str, str], ...]  # (call id, tool name, arguments as JSON text)
    prompt_tokens: int
    completion_tokens: int
    wall_s: float


class LLMClient:
    """Chat completions with validation; `http_client` is the transport seam for tests."""

    def __init__(self, config: LLMConfig, *, http_client: Any = None) -> None:
        # `http_client`: a Client of the httpx flavour the installed openai uses (httpx2 for
        # openai 3), e.g. with a MockTransport in tests; None: the client's own.
        if not config.base_url:
            raise ValueError(
                "LLMClient needs a base URL: use agent.llm.local_server for the default"
            )
        self.config = config
        self.usage = Usage()
        self._client = openai.OpenAI(
            base_url=config.base_url,
            api_key=config.api_key,
            timeout=config.timeout_s,
            max_retries=config.max_retries,
            http_client=http_client,
        )
        self._model = config.model

    @property
    def model(self) -> str:
        """The model name, asked of the server once when not configured."""
        if not self._model:
            try:
                listed = self._client.models.list().data
            except openai.APIError as exc:
                raise LLMUnavailable(
                    f"cannot list models at {self.config.base_url}: {exc}"
                ) from exc
            if not listed:
                raise LLMUnavailable(f"the server at {self.config.base_url} lists no models")
            self._model = listed[0].id
        return self._model

    def structured(
        self,
        messages: list[Message],
        schema: type[T],
        *,
        name: str,
        max_tokens: int = 48,
        json_schema: dict[str, Any] | None = None,
    ) -> Reply[T]:
        """A reply validated as `schema` (constrained by `json_schema` or the model's own)."""
        fmt = {
            "type": "json_schema",
            "json_schema": {
                "name": name,
                "schema": json_schema or strict_schema(schema),
                "strict": True,
            },
        }
        history = list(messages)
        t0 = time.perf_counter()
        prompt = completion = 0
        error = ""
        raw = ""
        for attempt in range(2):
            out = self._create(messages=history, max_tokens=max_tokens, response_format=fmt)
            raw = out.choices[0].message.content or ""
            prompt += out.usage.prompt_tokens if out.usage else 0
            completion += out.usage.completion_tokens if out.usage else 0
            try:
                value = schema.model_validate_json(raw)
            except ValidationError as exc:
                error = _short_error(exc)
                if attempt == 0:
                    self.usage.repairs += 1
                    history += [
                        {"role": "assistant", "content": raw},
                        {"role": "user", "content": f"Invalid: {error}. Reply with valid JSON."},
                    ]
                continue
            return Reply(value, raw, prompt, completion, time.perf_counter() - t0, attempt == 1)
        self.usage.failures += 1
        raise LLMOutputInvalid(name, error, raw)

    def tool_call(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]],
        *,
        max_tokens: int = 96,
        required: bool = True,
    ) -> ToolCallReply:
        """One assistant turn that may call tools (`required`: it must call one)."""
        t0 = time.perf_counter()
        out = self._create(
            messages=messages,
            max_tokens=max_tokens,
            tools=tools,
            tool_choice="required" if required else "auto",
        )
        message = out.choices[0].message
        calls = tuple(
            (c.id, c.function.name, c.function.arguments)
            for c in message.tool_calls or []
            if c.type == "function"
        )
        return ToolCallReply(
            message.content or "",
            calls,
            out.usage.prompt_tokens if out.usage else 0,
            out.usage.completion_tokens if out.usage else 0,
            time.perf_counter() - t0,
        )

    def close(self) -> None:
        self._client.close()

    def _create(self, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            out = self._client.chat.completions.create(
                model=self.model, temperature=self.config.temperature, **kwargs
            )
        except openai.APIError as exc:
            self.usage.failures += 1
            raise LLMUnavailable(f"LLM call to {self.config.base_url} failed: {exc}") from exc
        usage = out.usage
        self.usage.add(
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else 0,
            time.perf_counter() - t0,
        )
        return out


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with every object closed (no extra keys), as strict mode wants."""
    schema = model.model_json_schema()
    _close_objects(schema)
    return schema


def _close_objects(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "object":
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _close_objects(value)
    elif isinstance(node, list):
        for value in node:
            _close_objects(value)


def _short_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "reply"
    return f"{where}: {first.get('msg', 'invalid')}"[:200]


def dumps(value: Any) -> str:
    """Compact JSON for prompts (fewer tokens for a small model)."""
    return json.dumps(value, separators=(",", ":"), default=str)

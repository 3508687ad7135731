"""Tools generated from typed, documented Python functions, smolagents-style.

The tool's name is the function's, its description the docstring's first paragraph, and its
parameters a JSON schema built from the type hints (Pydantic) with each argument's text taken
from the docstring's `Args:` section. Calls are validated before the function runs.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from agent.errors import AgentError, ToolError
from agent.llm.client import dumps, strict_schema
from hpc.errors import HpcError


@dataclass(frozen=True, slots=True)
class Tool:
    """A callable the model may use: validated arguments in, JSON-able result out."""

    name: str
    description: str
    fn: Callable[..., Any]
    args_model: type[BaseModel]

    def spec(self) -> dict[str, Any]:
        """The OpenAI `tools` entry."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": strict_schema(self.args_model),
            },
        }

    def validate(self, arguments: str | dict[str, Any]) -> dict[str, Any]:
        """Arguments checked against the signature; `ToolError` says what is wrong."""
        try:
            if isinstance(arguments, str):
                parsed = self.args_model.model_validate_json(arguments or "{}")
            else:
                parsed = self.args_model.model_validate(arguments)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "arguments"
            raise ToolError(f"{self.name}: {where}: {first.get('msg')}") from None
        return parsed.model_dump()

    def __call__(self, arguments: str | dict[str, Any]) -> Any:
        kwargs = self.validate(arguments)
        try:
            return self.fn(**kwargs)
        except (HpcError, ValueError) as exc:
            raise ToolError(f"{self.name}: {exc}") from exc


def tool(fn: Callable[..., Any], *, name: str | None = None) -> Tool:
    """A `Tool` from `fn`'s signature and docstring (every parameter must be annotated)."""
    doc = inspect.getdoc(fn) or ""
    if not doc:
        raise TypeError(f"tool {fn.__name__} needs a docstring: it is the model's only manual")
    summary, arg_docs = _parse_docstring(doc)
    hints = get_type_hints(fn)
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.name in ("self", "cls"):
            continue
        if param.name not in hints:
            raise TypeError(f"tool {fn.__name__}: parameter {param.name} has no type hint")
        default = ... if param.default is inspect.Parameter.empty else param.default
        text = arg_docs.get(param.name, "")
        fields[param.name] = (hints[param.name], Field(default, description=text or None))
    model = create_model(f"{fn.__name__}_args", __config__=ConfigDict(extra="forbid"), **fields)
    return Tool(name or fn.__name__, summary, fn, model)


class Toolbox:
    """Tools by name; `call` runs one and times it, turning failures into observations."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self.tools = {t.name: t for t in tools}

    def specs(self) -> list[dict[str, Any]]:
        return [t.spec() for t in self.tools.values()]

    def call(self, name: str, arguments: str | dict[str, Any]) -> tuple[str, str | None, float]:
        """(result as JSON text, error or None, wall seconds) of one call."""
        t0 = time.perf_counter()
        found = self.tools.get(name)
        if found is None:
            known = ", ".join(self.tools)
            return "", f"unknown tool {name!r}: use one of {known}", time.perf_counter() - t0
        try:
            result = found(arguments)
        except (ToolError, AgentError) as exc:
            return "", str(exc), time.perf_counter() - t0
        text = result if isinstance(result, str) else dumps(result)
        return text, None, time.perf_counter() - t0


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """(first paragraph, {argument: text}) from a Google-style docstring."""
    summary = " ".join(doc.split("\n\n")[0].split())
    args: dict[str, str] = {}
    lines = doc.splitlines()
    if "Args:" not in (line.strip() for line in lines):
        return summary, args
    current = ""
    for line in lines[[ln.strip() for ln in lines].index("Args:") + 1 :]:
        stripped = line.strip()
        if not stripped or not line.startswith(" "):
            break  # a blank line or the next section ends the arguments
        head, sep, rest = stripped.partition(":")
        name = head.split(" ")[0]
        if sep and name.isidentifier() and len(line) - len(line.lstrip()) <= 4:
            current = name
            args[current] = rest.strip()
        elif current:
            args[current] += " " + stripped
    return summary, args


def loads_object(text: str) -> dict[str, Any]:
    """JSON text that must be an object (tool arguments)."""
    value = json.loads(text or "{}")
    if not isinstance(value, dict):
        raise ToolError("tool arguments must be a JSON object")
    return value

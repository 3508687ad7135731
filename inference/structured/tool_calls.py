"""Tool calls as JSON: the OpenAI `tools` list checked, the call schema and grammar built from
it, and a model's output read back as one call (`{"name": ..., "arguments": {...}}`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from inference.errors import RequestError

# "auto", "required", or {"type": "function", "function": {"name": ...}}; checked by `choose`.
ToolChoice = str | Mapping[str, Any]

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
}


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """One callable function: its name, the JSON schema of its arguments, and OpenAI `strict`."""

    name: str
    parameters: dict[str, Any]
    strict: bool = False


def function_specs(tools: Sequence[Any]) -> list[FunctionSpec]:
    """The functions of an OpenAI `tools` list (`{"type": "function", "function": {...}}`).

    Raises RequestError(param="tools") naming the tool at fault.
    """
    if not isinstance(tools, Sequence) or isinstance(tools, str) or not tools:
        raise RequestError("tools must be a non-empty list of functions", param="tools")
    specs: list[FunctionSpec] = []
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        fn = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(fn, Mapping) or tool.get("type", "function") != "function":
            raise RequestError(
                f'{where} must be {{"type": "function", "function": {{"name": ..., '
                '"parameters": {...}}}',
                param="tools",
            )
        name = fn.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise RequestError(
                f"{where}.function.name must be 1-64 letters, digits, '_' or '-', got {name!r}",
                param="tools",
            )
        if any(s.name == name for s in specs):
            raise RequestError(f"{where}: function name {name!r} is used twice", param="tools")
        params = fn.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(params, Mapping) or params.get("type", "object") != "object":
            raise RequestError(
                f"{where}.function.parameters must be a JSON schema of type 'object' "
                f"(the arguments are a JSON object), got {params!r:.200}",
                param="tools",
            )
        specs.append(FunctionSpec(name, {"type": "object", **params}, bool(fn.get("strict"))))
    return specs


def choose(specs: Sequence[FunctionSpec], choice: ToolChoice) -> tuple[list[FunctionSpec], bool]:
    """The functions `tool_choice` allows, and whether a call is required (else free text too)."""
    if choice == "auto":
        return list(specs), False
    if choice == "required":
        return list(specs), True
    fn = choice.get("function") if isinstance(choice, Mapping) else None
    name = fn.get("name") if isinstance(fn, Mapping) else None
    if not isinstance(name, str):
        raise RequestError(
            'tool_choice must be "auto", "required", "none" or '
            '{"type": "function", "function": {"name": ...}}',
            param="tool_choice",
        )
    named = [s for s in specs if s.name == name]
    if not named:
        known = ", ".join(s.name for s in specs)
        raise RequestError(
            f"tool_choice names function {name!r}, which is not in tools ({known})",
            param="tool_choice",
        )
    return named, True


def call_schema(specs: Sequence[FunctionSpec]) -> dict[str, Any]:
    """JSON schema of one call: `{"name": const, "arguments": parameters}`, anyOf over specs."""
    branches = [
        {
            "type": "object",
            "properties": {"name": {"const": s.name}, "arguments": s.parameters},
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for s in specs
    ]
    return branches[0] if len(branches) == 1 else {"anyOf": branches}


def auto_lark(schema_json: str) -> str:
    """Lark grammar for tool_choice "auto": free text, or (after optional whitespace) a call.

    The first non-whitespace character decides: "{" starts a tool call, anything else
    starts free text that runs to end of sequence. `schema_json` is the call's JSON schema.
    """
    return (
        "start: TEXT | WS? call\n"
        "WS: /[ \\t\\r\\n]+/\n"
        "TEXT: /[ \\t\\r\\n]*[^{ \\t\\r\\n][\\s\\S]*/\n"
        f"call: %json {schema_json}\n"
    )


def parse_tool_call(text: str, tools: Sequence[Any]) -> tuple[str, dict[str, Any]] | None:
    """The (name, arguments) of the call `text` holds, or None when it is not a valid call.

    Under the grammar a call always parses; this also guards text produced without one.
    Arguments get a light check (types, enum/const, required and undeclared keys).
    """
    stripped = text.strip()
    if not stripped.startswith("{"):
        return None
    try:
        value = json.loads(stripped)
    except json.JSONDecodeError:
        return None
    if not isinstance(value, dict) or set(value) != {"name", "arguments"}:
        return None
    name, arguments = value["name"], value["arguments"]
    spec = next((s for s in function_specs(tools) if s.name == name), None)
    if spec is None or not isinstance(arguments, dict) or not conforms(arguments, spec.parameters):
        return None
    return name, arguments


def conforms(value: Any, schema: Any) -> bool:
    """A light JSON-schema check: type, enum, const, properties, required, items, anyOf.

    Keywords it does not know ($ref, bounds, patterns) pass: the grammar enforced them.
    """
    if not isinstance(schema, Mapping):
        return schema is not False
    if "const" in schema and value != schema["const"]:
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_is_type(value, t) for t in names):
            return False
    if "anyOf" in schema and not any(conforms(value, s) for s in schema["anyOf"]):
        return False
    if isinstance(value, dict):
        props = schema.get("properties", {})
        if any(k not in value for k in schema.get("required", [])):
            return False
        closed = schema.get("additionalProperties") is False
        for key, item in value.items():
            if key in props:
                if not conforms(item, props[key]):
                    return False
            elif closed:
                return False
    if isinstance(value, list) and "items" in schema:
        return all(conforms(item, schema["items"]) for item in value)
    return True


def _is_type(value: Any, name: str) -> bool:
    if name == "null":
        return value is None
    if isinstance(value, bool) and name != "boolean":
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    expected = _JSON_TYPES.get(name)
    return expected is not None and isinstance(value, expected)

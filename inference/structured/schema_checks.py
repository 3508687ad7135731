"""Checks on a JSON schema before it is compiled into a grammar: bounded nesting and size,
local `$ref`s that resolve, and no `$ref` cycle that loops without producing output.

A cycle through `properties` or `items` (a tree of nodes) is fine: each turn writes a
nested value. A cycle through `$ref`, `allOf`, `anyOf`, `oneOf` alone (`a` is `a`) makes a
grammar that compiles but breaks at its first token, so it is refused here, with a message.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote

from inference.errors import RequestError

MAX_DEPTH = 64  # nested objects and lists in one schema
MAX_NODES = 20_000  # objects and lists in one schema
_THROUGH = ("allOf", "anyOf", "oneOf")  # a value valid here is valid for the whole node


def check_schema(schema: Any, *, param: str) -> None:
    """Raise RequestError (naming `param`) for a schema that no grammar could enforce."""
    _check_shape(schema, param)
    if isinstance(schema, Mapping):
        _check_refs(schema, param)


def _check_shape(schema: Any, param: str) -> None:
    """Bounded depth and size, checked without recursion (a deep schema cannot overflow)."""
    stack: list[tuple[Any, int]] = [(schema, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, Mapping | list):
            continue
        nodes += 1
        if depth > MAX_DEPTH:
            raise RequestError(
                f"{param}: the schema nests deeper than {MAX_DEPTH} levels: flatten it",
                param=param,
            )
        if nodes > MAX_NODES:
            raise RequestError(
                f"{param}: the schema has more than {MAX_NODES} objects and lists: shorten it",
                param=param,
            )
        children = node.values() if isinstance(node, Mapping) else node
        stack.extend((child, depth + 1) for child in children)


def _check_refs(root: Mapping[str, Any], param: str) -> None:
    """Every `$ref` resolves inside the schema, and none loops back to itself through
    keywords that produce no output of their own."""
    seen: set[str] = set()
    for ref in ["#", *_all_refs(root)]:
        if ref not in seen:
            _walk_from(root, ref, seen, param)


def _walk_from(root: Mapping[str, Any], start: str, seen: set[str], param: str) -> None:
    """Depth-first over the references that produce nothing first, from `start`; a target
    already on the current path closes a loop."""
    path: list[str] = []
    stack: list[Iterator[str]] = []
    target: str | None = start
    while True:
        if target is not None:
            if target in path:
                loop = " -> ".join([*path[path.index(target) :], target])
                raise RequestError(
                    f"{param}: the schema's $ref loops without producing any value "
                    f"({loop}): a recursive reference must sit under properties or items",
                    param=param,
                )
            if target not in seen:
                seen.add(target)
                path.append(target)
                stack.append(iter(_heads(_resolve(root, target, param))))
        if not stack:
            return
        target = next(stack[-1], None)
        if target is None:
            stack.pop()
            path.pop()


def _all_refs(node: Any) -> Iterator[str]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            ref = item.get("$ref")
            if isinstance(ref, str):
                yield ref
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _heads(node: Any) -> Iterator[str]:
    """The `$ref`s a value of `node` must satisfy before writing anything of its own."""
    stack = [node]
    while stack:
        item = stack.pop()
        if not isinstance(item, Mapping):
            continue
        ref = item.get("$ref")
        if isinstance(ref, str):
            yield ref
        for key in _THROUGH:
            if isinstance(item.get(key), list):
                stack.extend(item[key])


def _resolve(root: Mapping[str, Any], ref: str, param: str) -> Any:
    """The subschema a local `$ref` ("#", "#/$defs/a", "#/definitions/a~1b") points at."""
    if not ref.startswith("#"):
        raise RequestError(
            f"{param}: $ref {ref!r} points outside the schema: only local references "
            "(#/$defs/...) are supported",
            param=param,
        )
    node: Any = root
    for raw in ref[1:].lstrip("/").split("/") if ref not in ("#", "#/") else []:
        key = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            raise RequestError(
                f"{param}: $ref {ref!r} does not resolve: define it under $defs", param=param
            )
    return node

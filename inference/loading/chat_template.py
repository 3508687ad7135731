"""Chat messages → prompt text, with the model's Jinja chat template run the way transformers
runs it (sandboxed), ChatML when the model has none, and tools described in the system prompt
when the template ignores them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, NoReturn

import jinja2
import jinja2.ext
import jinja2.meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from inference.errors import ModelLoadError, RequestError

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def render_chat(
    template: str | None,
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: list[dict[str, Any]] | None = None,
    add_generation_prompt: bool = True,
    bos_token: str = "",
    eos_token: str = "",
) -> str:
    """The prompt for `messages`; tools go to the template, or to the system prompt if it has
    no use for them (see `tools_system_prompt`)."""
    source = template or CHATML
    compiled = _compile(source)
    turns = [_plain(m) for m in messages]
    if tools and "tools" not in _variables(source):
        turns = _with_system_addendum(turns, tools_system_prompt(tools))
    try:
        return compiled.render(
            messages=turns,
            tools=tools or None,
            add_generation_prompt=add_generation_prompt,
            bos_token=bos_token,
            eos_token=eos_token,
        )
    except (jinja2.TemplateError, TypeError, ValueError) as exc:
        raise RequestError(
            f"the model's chat template rejected these messages: {exc}", param="messages"
        ) from exc


def tools_system_prompt(tools: Sequence[Mapping[str, Any]]) -> str:
    """Describe `tools` (OpenAI format) for a model whose template cannot: one JSON schema per
    line, then how to call one — the JSON object the server parses as a tool call."""
    lines = [
        "You can call these tools. Each is described by a JSON object with its name, what it "
        "does, and a JSON schema of its parameters:"
    ]
    for tool in tools:
        spec = tool.get("function", tool)
        described = {
            "name": spec.get("name"),
            "description": spec.get("description", ""),
            "parameters": spec.get("parameters", {"type": "object", "properties": {}}),
        }
        lines.append(json.dumps(described, ensure_ascii=False))
    lines.append(
        'To call a tool, reply with only a JSON object {"name": <tool name>, "arguments": '
        "<object matching its parameters>} and nothing else. If no tool is needed, answer "
        "in plain text."
    )
    return "\n".join(lines)


@lru_cache(maxsize=8)
def _compile(source: str) -> jinja2.Template:
    try:
        return _environment().from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ModelLoadError(f"the model's chat template does not compile: {exc}") from exc


@lru_cache(maxsize=8)
def _variables(source: str) -> frozenset[str]:
    """Names the template reads from its context (e.g. "tools" when it renders them)."""
    return frozenset(jinja2.meta.find_undeclared_variables(_environment().parse(source)))


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    """An environment like transformers' (sandboxed, trim/lstrip blocks, its helpers)."""
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    """transformers' tojson: plain json.dumps, without Jinja's HTML escaping."""
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _raise_exception(message: str) -> NoReturn:
    raise jinja2.TemplateError(message)


def _plain(message: Mapping[str, Any]) -> dict[str, Any]:
    """A message whose content is a string: None → "", a list of parts → their joined text."""
    turn = dict(message)
    content = turn.get("content")
    if content is None:
        turn["content"] = ""
    elif isinstance(content, list):
        texts = (p.get("text", "") for p in content if isinstance(p, Mapping))
        turn["content"] = "".join(t for t in texts if isinstance(t, str))
    return turn


def _with_system_addendum(turns: list[dict[str, Any]], addendum: str) -> list[dict[str, Any]]:
    """Append `addendum` to the system message, adding one first if there is none."""
    if turns and turns[0].get("role") == "system":
        first = {**turns[0], "content": f"{turns[0]['content']}\n\n{addendum}"}
        return [first, *turns[1:]]
    return [{"role": "system", "content": addendum}, *turns]

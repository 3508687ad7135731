"""From an OpenAI request to engine input (prompt ids, sampling, constraint) and back.

Tools are shown to the model in the system prompt (most small models' templates ignore
`tools`), and a tool call is produced under a grammar, so its arguments always validate.
The server calls `prepare_*` in a worker thread: rendering and tokenizing a long prompt
would otherwise stall every other client.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from inference.engine.sequence import SamplingParams
from inference.errors import ContextLengthError, RequestError
from inference.loading.chat_template import render_chat, tools_system_prompt
from inference.loading.tokenizer import Tokenizer
from inference.serve.protocol import ChatRequest, CompletionRequest, SamplingFields, new_id
from inference.structured.constraints import Constraint, GrammarCompiler, parse_tool_call


@dataclass(slots=True)
class Prepared:
    prompt_ids: list[int]
    params: SamplingParams
    constraint: Constraint | None
    tools: list[dict[str, Any]] | None  # set when the answer may be a tool call


def sampling_params(req: SamplingFields, prompt_len: int, max_seq_len: int) -> SamplingParams:
    """Sampling settings, refusing prompts that leave no room in the context."""
    room = max_seq_len - prompt_len
    if room < 1:
        raise ContextLengthError(
            f"the prompt has {prompt_len} tokens but the context holds {max_seq_len}: "
            "shorten the messages",
            param="messages",
            code="context_length_exceeded",
        )
    limit = req.token_limit()
    if limit is not None and limit > room:
        raise ContextLengthError(
            f"prompt ({prompt_len} tokens) + max_tokens ({limit}) exceeds the context of "
            f"{max_seq_len} tokens: ask for at most {room} tokens",
            param="max_tokens",
            code="context_length_exceeded",
        )
    return SamplingParams(
        max_tokens=limit or room,
        temperature=req.temperature,
        top_p=req.top_p,
        top_k=req.top_k,
        stop=req.stop_list(),
        seed=req.seed,
        logprobs=req.logprob_count(),
    )


def encode_prompt(text: str, tokenizer: Tokenizer, max_seq_len: int, *, param: str) -> list[int]:
    """The prompt's token ids; a text too long for the context is refused before encoding
    (no token stands for more than `max_token_bytes` bytes, nor characters)."""
    if len(text) > max_seq_len * tokenizer.max_token_bytes:
        raise ContextLengthError(
            f"the prompt has {len(text)} characters, more than the context of {max_seq_len} "
            f"tokens can hold: shorten the {param}",
            param=param,
            code="context_length_exceeded",
        )
    return tokenizer.encode(text)


def prepare_completion(
    req: CompletionRequest, *, tokenizer: Tokenizer, grammar: GrammarCompiler, max_seq_len: int
) -> Prepared:
    if not isinstance(req.prompt, str) and len(req.prompt) != 1:
        raise RequestError("send one prompt per request", param="prompt")
    text = req.prompt if isinstance(req.prompt, str) else req.prompt[0]
    prompt_ids = encode_prompt(text, tokenizer, max_seq_len, param="prompt")
    params = sampling_params(req, len(prompt_ids), max_seq_len)
    return Prepared(prompt_ids, params, guided_constraint(req, grammar), None)


def defang(text: str, specials: list[str]) -> str:
    """Break control-token strings inside message text (a zero-width space after the first
    character), so that untrusted content cannot forge `<|im_start|>system` and the like."""
    for token in specials:
        if token in text:
            text = text.replace(token, token[0] + "\u200b" + token[1:])
    return text


def special_strings(tokenizer: Tokenizer) -> list[str]:
    names = (tokenizer.hf.id_to_token(i) for i in tokenizer.special_ids)
    return sorted((n for n in names if n and len(n) > 1), key=len, reverse=True)


def prepare_chat(
    req: ChatRequest,
    *,
    tokenizer: Tokenizer,
    template: str | None,
    grammar: GrammarCompiler,
    max_seq_len: int,
) -> Prepared:
    messages: list[dict[str, Any]] = []
    specials = special_strings(tokenizer)
    for m in req.messages:
        role = "system" if m.role == "developer" else m.role
        content = defang(m.text(), specials)
        if m.role == "assistant" and m.tool_calls:
            content = json.dumps(
                {"name": m.tool_calls[0].function.name,
                 "arguments": json.loads(m.tool_calls[0].function.arguments or "{}")}
            )  # fmt: skip
        if m.role == "tool":
            role, content = "user", f"Tool result ({m.tool_call_id or 'call'}): {content}"
        messages.append({"role": role, "content": content})
    tools = req.tools if req.tools and req.tool_choice != "none" else None
    if tools:
        addendum = tools_system_prompt(tools)
        if messages[0]["role"] == "system":
            messages[0] = {"role": "system", "content": f"{messages[0]['content']}\n\n{addendum}"}
        else:
            messages.insert(0, {"role": "system", "content": addendum})
    text = render_chat(template, messages, add_generation_prompt=True)
    prompt_ids = encode_prompt(text, tokenizer, max_seq_len, param="messages")
    params = sampling_params(req, len(prompt_ids), max_seq_len)
    return Prepared(prompt_ids, params, _constraint(req, grammar, tools), tools)


def _constraint(
    req: ChatRequest, grammar: GrammarCompiler, tools: list[dict[str, Any]] | None
) -> Constraint | None:
    fmt = req.response_format
    asked = [name for name, value in _guided_fields(req) if value is not None]
    if fmt is not None and fmt.type != "text":
        asked.insert(0, "response_format")
    if tools:
        asked.insert(0, "tools")
    if len(asked) > 1:
        raise RequestError(
            f"use one of {', '.join(asked)} to shape the output, not several", param=asked[1]
        )
    if tools:
        return grammar.tool_call(tools, req.tool_choice or "auto")
    if fmt is None or fmt.type == "text":
        return guided_constraint(req, grammar)
    if fmt.type == "json_object":
        return grammar.json_object()
    spec = fmt.json_schema or {}
    schema = spec.get("schema")
    if not isinstance(schema, dict):
        raise RequestError(
            "response_format.json_schema.schema must be a JSON schema object",
            param="response_format",
        )
    return grammar.json_schema(schema, strict=bool(spec.get("strict", True)))


def _guided_fields(req: SamplingFields) -> list[tuple[str, object]]:
    """vLLM's structured-output fields by name, with their values (None: not given)."""
    so = req.structured_outputs
    return [
        ("guided_json", req.guided_json),
        ("guided_regex", req.guided_regex),
        ("guided_choice", req.guided_choice),
        ("structured_outputs.json", so.json_ if so else None),
        ("structured_outputs.regex", so.regex if so else None),
        ("structured_outputs.choice", so.choice if so else None),
        ("structured_outputs.json_object", True if so and so.json_object else None),
    ]


def guided_constraint(req: SamplingFields, grammar: GrammarCompiler) -> Constraint | None:
    """The constraint of vLLM's guided_json / guided_regex / guided_choice or
    structured_outputs (json, regex, choice, json_object), at most one of them."""
    given = [(name, value) for name, value in _guided_fields(req) if value is not None]
    if not given:
        return None
    if len(given) > 1:
        names = ", ".join(name for name, _ in given)
        raise RequestError(f"use one of {names}, not several", param=given[1][0])
    name, value = given[0]
    if name.endswith("json_object"):
        return grammar.json_object(param=name)
    if name.endswith("regex"):
        return grammar.regex(str(value), param=name)
    if name.endswith("choice"):
        return grammar.choice(list(value), param=name)  # type: ignore[call-overload]
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise RequestError(f"{name}: not a JSON schema: {exc}", param=name) from exc
    if not isinstance(value, dict):
        raise RequestError(f"{name}: the schema must be a JSON object", param=name)
    return grammar.json_value(value, param=name)


def assistant_message(text: str, tools: list[dict[str, Any]] | None) -> tuple[dict[str, Any], bool]:
    """The response message; a tool call when the output is one (then True)."""
    if tools:
        call = parse_tool_call(text, tools)
        if call is not None:
            name, arguments = call
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": new_id("call"),
                        "type": "function",
                        "function": {"name": name, "arguments": json.dumps(arguments)},
                    }
                ],
            }
            return message, True
    return {"role": "assistant", "content": text}, False

"""Structured output: a grammar (JSON schema, any JSON object, tool call, regular expression,
choice of strings) compiled by llguidance and enforced token by token as a bitmask over the
vocabulary, applied to the logits.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence, Set
from functools import cache
from typing import TYPE_CHECKING, Any

import llguidance
import torch
from tokenizers import Tokenizer as HFTokenizer

from inference.errors import GrammarViolationError, ModelLoadError, RequestError
from inference.structured.schema_checks import check_schema
from inference.structured.tool_calls import (
    FunctionSpec,
    ToolChoice,
    auto_lark,
    call_schema,
    choose,
    function_specs,
    parse_tool_call,
)

if TYPE_CHECKING:
    from llguidance._lib import JsonCompileOptions

__all__ = [
    "Constraint",
    "GrammarCompiler",
    "GrammarViolationError",
    "allocate_bitmask",
    "apply_masks",
    "fill_masks",
    "parse_tool_call",
]

logger = logging.getLogger(__name__)

# Compact JSON as json.dumps writes it: free whitespace lets small models loop on newlines.
JSON_LAYOUT: JsonCompileOptions = {
    "whitespace_flexible": False,
    "item_separator": ", ",
    "key_separator": ": ",
}
_MAX_ERROR_CHARS = 300
_LIMITS = llguidance.LLParserLimits(verbose_errors=False)  # no parser dumps in messages
_SUPPORTED = (
    "Supported keywords: type, properties, required, additionalProperties, items, "
    "prefixItems, minItems, maxItems, enum, const, anyOf, $ref/$defs, minLength, maxLength, "
    "pattern, format, minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf"
)
# Keywords whose value maps names to subschemas, holds one subschema, or a list of them.
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_ONE = ("items", "additionalProperties", "contains", "not", "if", "then", "else")
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")


class Constraint:
    """The grammar state of one request: masks the next token, then accepts the chosen one."""

    def __init__(self, matcher: llguidance.LLMatcher, words: int) -> None:
        self._matcher = matcher
        self._words = words  # int32 words in one bitmask row

    def fill_mask(self, bitmask: torch.Tensor, row: int) -> None:
        """Write the allowed next tokens into `bitmask[row]` (bit set = allowed)."""
        _check_bitmask(bitmask, self._words, [row])
        target = bitmask[row]
        self._matcher.unsafe_compute_mask_ptr(target.data_ptr(), self._words * 4)
        self._raise_if_error()

    def accept(self, token_id: int) -> None:
        """Advance past `token_id`; raises GrammarViolationError if the grammar forbids it."""
        if not self._matcher.consume_token(token_id):
            self._raise_if_error()
            raise GrammarViolationError(f"token {token_id} rejected by the grammar")

    def is_done(self) -> bool:
        """True once the grammar is complete and only end-of-sequence may follow."""
        return self._matcher.is_stopped()

    def is_accepting(self) -> bool:
        """True when the output so far is complete (end-of-sequence is allowed now)."""
        return self._matcher.is_accepting()

    def _raise_if_error(self) -> None:
        if self._matcher.is_error():
            raise GrammarViolationError(
                f"grammar state broken: {_first_line(self._matcher.get_error())}"
            )


class GrammarCompiler:
    """Turns response formats and tool lists into per-request `Constraint`s for one tokenizer.

    Build it once per model (about 0.3 s for a 50k vocabulary); `vocab_size` is the width of
    the model's logits, which may exceed the tokenizer's (padding rows are never allowed).
    """

    def __init__(self, hf_tokenizer: HFTokenizer, eos_ids: Set[int], vocab_size: int) -> None:
        size = hf_tokenizer.get_vocab_size(with_added_tokens=True)
        if vocab_size < size:
            raise ModelLoadError(
                f"the model's vocabulary ({vocab_size}) is smaller than its tokenizer's "
                f"({size}): the tokenizer does not belong to this model"
            )
        if not eos_ids:
            raise ModelLoadError("the tokenizer has no end-of-sequence token to stop a grammar")
        self.vocab_size = vocab_size
        self._words = (vocab_size + 31) // 32
        self._tokenizer = llguidance.LLTokenizer(
            hf_tokenizer.to_str(), n_vocab=vocab_size, eos_token=sorted(eos_ids)
        )

    def json_schema(self, schema: Mapping[str, Any], *, strict: bool = True) -> Constraint:
        """Output one JSON value valid under `schema` (response_format "json_schema").

        strict: keywords llguidance cannot enforce are an error, and objects with
        `properties` but no `additionalProperties` are closed (OpenAI strict mode requires
        that anyway). Not strict: such keywords are ignored (best effort), objects stay open.
        """
        return self.json_value(schema, strict=strict, param="response_format")

    def json_value(
        self, schema: Mapping[str, Any], *, strict: bool = True, param: str
    ) -> Constraint:
        """As `json_schema`, for the request field `param` (vLLM's guided_json too)."""
        if not isinstance(schema, Mapping):
            raise RequestError(f"{param}: the schema must be a JSON schema object", param=param)
        check_schema(schema, param=param)
        body = close_objects(schema) if strict else dict(schema)
        return self._compile_json(body, lenient=not strict, param=param)

    def json_object(self, *, param: str = "response_format") -> Constraint:
        """Output any one JSON object (response_format "json_object")."""
        return self._compile_json({"type": "object"}, lenient=False, param=param)

    def regex(self, pattern: str, *, param: str) -> Constraint:
        """Output text that matches `pattern` as a whole (Rust regex syntax, as vLLM's)."""
        grammar = llguidance.LLMatcher.grammar_from_regex(pattern)
        return self._compile(grammar, param=param, what="the regular expression")

    def choice(self, options: Sequence[str], *, param: str) -> Constraint:
        """Output exactly one of `options`."""
        if not options or not all(isinstance(o, str) and o for o in options):
            raise RequestError(f"{param}: give a list of non-empty strings", param=param)
        # JSON string literals are lark string literals: quotes and backslashes escaped.
        lark = "start: " + " | ".join(json.dumps(option) for option in options)
        grammar = llguidance.LLMatcher.grammar_from_lark(lark)
        return self._compile(grammar, param=param, what="the choice")

    def tool_call(self, tools: Sequence[Any], choice: ToolChoice = "auto") -> Constraint:
        """Output a tool call `{"name": ..., "arguments": {...}}`, or for "auto" free text too.

        Arguments follow the function's `parameters` schema with objects closed (a function
        gets no argument it did not declare); keywords llguidance cannot enforce are errors
        only when every function is `strict`. One call per response.
        """
        allowed, required = choose(function_specs(tools), choice)
        for spec in allowed:
            check_schema(spec.parameters, param="tools")
        lenient = not all(s.strict for s in allowed)
        schema = close_objects(call_schema(allowed))
        options: JsonCompileOptions = {**JSON_LAYOUT, "lenient": lenient}
        if required:
            grammar = llguidance.LLMatcher.grammar_from_json_schema(schema, overrides=options)
        else:
            lark = auto_lark(json.dumps({**schema, "x-guidance": options}))
            grammar = llguidance.LLMatcher.grammar_from_lark(lark)
        try:
            return self._compile(grammar, param="tools")
        except RequestError:
            self._blame_tool(allowed, options)
            raise

    def _blame_tool(self, specs: Sequence[FunctionSpec], options: JsonCompileOptions) -> None:
        """Raise a RequestError naming the first function whose parameters do not compile."""
        for spec in specs:
            grammar = llguidance.LLMatcher.grammar_from_json_schema(
                close_objects(spec.parameters), overrides=options
            )
            failed, messages = llguidance.LLMatcher.validate_grammar_with_warnings(
                grammar, self._tokenizer, limits=_LIMITS
            )
            if failed:
                raise RequestError(
                    f"tools: the parameters of function {spec.name!r} cannot be enforced: "
                    f"{_first_line(messages[0])}. {_SUPPORTED}",
                    param="tools",
                )

    def _compile_json(self, schema: dict[str, Any], *, lenient: bool, param: str) -> Constraint:
        options: JsonCompileOptions = {**JSON_LAYOUT, "lenient": lenient}
        try:
            grammar = llguidance.LLMatcher.grammar_from_json_schema(schema, overrides=options)
        except (ValueError, TypeError) as exc:  # not serialisable as a JSON object
            raise RequestError(
                f"{param}: the schema is not valid JSON: {exc}", param=param
            ) from exc
        return self._compile(grammar, param=param)

    def _compile(self, grammar: str, *, param: str, what: str = "the JSON schema") -> Constraint:
        matcher = llguidance.LLMatcher(self._tokenizer, grammar, log_level=0, limits=_LIMITS)
        hint = f". {_SUPPORTED}" if what == "the JSON schema" else ""
        if matcher.is_error():
            raise RequestError(
                f"{param}: {what} cannot be enforced: {_first_line(matcher.get_error())}{hint}",
                param=param,
            )
        for warning in matcher.get_grammar_warnings():
            logger.info("grammar for %s: %s", param, warning)
        constraint = Constraint(matcher, self._words)
        # Some grammars compile and only break at their first token: find out now, while the
        # request can still be answered 400, not inside the engine's step.
        try:
            constraint.fill_mask(allocate_bitmask(1, self.vocab_size), 0)
        except GrammarViolationError as exc:
            raise RequestError(f"{param}: {what} cannot be enforced: {exc}", param=param) from exc
        return constraint


def close_objects(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `schema` where every object with `properties` forbids unlisted properties."""
    out: dict[str, Any] = dict(schema)
    for key, value in schema.items():
        if key in _SCHEMA_MAPS and isinstance(value, Mapping):
            out[key] = {k: _close_any(v) for k, v in value.items()}
        elif key in _SCHEMA_ONE or key in _SCHEMA_LISTS:
            out[key] = _close_any(value)
    if "properties" in schema and "additionalProperties" not in schema:
        out["additionalProperties"] = False
    return out


def _close_any(value: Any) -> Any:
    if isinstance(value, Mapping):
        return close_objects(value)
    if isinstance(value, list):
        return [_close_any(v) for v in value]
    return value  # a boolean schema


def allocate_bitmask(batch: int, vocab_size: int) -> torch.Tensor:
    """An all-allowed bitmask [batch, ceil(vocab_size / 32)] int32 on the CPU."""
    return torch.full((batch, (vocab_size + 31) // 32), -1, dtype=torch.int32)


def fill_masks(rows: Sequence[tuple[Constraint, int]], bitmask: torch.Tensor) -> None:
    """Fill several rows at once, in parallel across CPU threads (same as `fill_mask` each)."""
    if not rows:
        return
    words = rows[0][0]._words
    _check_bitmask(bitmask, words, [row for _, row in rows])
    _executor().unsafe_compute_mask_ptr(
        [(c._matcher, row) for c, row in rows], bitmask.data_ptr(), words * 4, bitmask.shape[0]
    )
    for constraint, _ in rows:
        constraint._raise_if_error()


def apply_masks(logits: torch.Tensor, bitmask: torch.Tensor) -> None:
    """Set logits [B, V] of disallowed tokens to -inf in place, row i under bitmask[i].

    `logits` may be any float dtype and device; V may exceed 32 * words (the excess is
    disallowed). Rows without a constraint must be all ones (-1), as allocated.
    """
    batch, vocab = logits.shape
    # Each mask byte (little-endian within its int32 word) looks up its 8 forbidden flags:
    # two tensor ops a step, where shifting bits out takes four.
    mask_bytes = bitmask[:batch].to(logits.device).view(torch.uint8).long()
    forbidden = _forbidden_table(logits.device)[mask_bytes].view(batch, -1)
    covered = min(vocab, forbidden.shape[1])
    logits[:, :covered].masked_fill_(forbidden[:, :covered], float("-inf"))
    if covered < vocab:
        logits[:, covered:] = float("-inf")


@cache
def _forbidden_table(device: torch.device) -> torch.Tensor:
    """[256, 8] bool: bit i of byte value b is clear (token 8k + i of that byte is masked)."""
    values = torch.arange(256).unsqueeze(-1)
    bits = torch.bitwise_right_shift(values, torch.arange(8)).bitwise_and(1)
    return (bits == 0).to(device)


def _first_line(message: str) -> str:
    return message.strip().split("\n", 1)[0][:_MAX_ERROR_CHARS]


def _check_bitmask(bitmask: torch.Tensor, words: int, rows: Sequence[int]) -> None:
    """Refuse what would make llguidance write outside the tensor (it takes a raw pointer)."""
    if bitmask.dtype != torch.int32 or bitmask.device.type != "cpu" or bitmask.dim() != 2:
        raise ValueError("the bitmask must be a 2-D int32 CPU tensor from allocate_bitmask")
    if bitmask.shape[1] != words or not bitmask.is_contiguous():
        raise ValueError(
            f"the bitmask has {bitmask.shape[1]} words a row, the grammar needs {words}: "
            "allocate it with the GrammarCompiler's vocab_size"
        )
    if any(not 0 <= row < bitmask.shape[0] for row in rows):
        raise ValueError(f"rows {list(rows)} outside a bitmask of {bitmask.shape[0]} rows")


@cache
def _executor() -> llguidance.LLExecutor:
    """One thread pool for all parallel mask fills (llguidance sizes it to the CPUs)."""
    return llguidance.LLExecutor()

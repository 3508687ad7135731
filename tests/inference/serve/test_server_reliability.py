"""The server against hostile and careless clients, over real HTTP on the real model: the
probes of issue 20 (a looping schema, huge bodies, a client that leaves), fields the server
does not implement, and what it now implements instead (guided output, logprobs, metrics)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator

import httpx
import jsonschema
import openai
import pytest

from inference.config import EngineConfig
from inference.engine.engine import Engine
from inference.serve.launcher import running_server

BODY_LIMIT = 64 * 1024
LOOPING_REF = {"$ref": "#/definitions/a", "definitions": {"a": {"$ref": "#/definitions/a"}}}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Engine]]:
    with running_server(EngineConfig(max_seq_len=512), max_body_bytes=BODY_LIMIT) as running:
        yield running


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def post(base: str, path: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{base}{path}", json=body, timeout=120)


# -- probe 1: one bad request must not fail the others -----------------------------------


def test_a_looping_schema_is_400_and_concurrent_requests_finish(
    server: tuple[str, Engine], model: str
) -> None:
    bad_format = {"type": "json_schema", "json_schema": {"name": "x", "schema": LOOPING_REF}}

    async def main() -> tuple[list[httpx.Response], httpx.Response]:
        async with httpx.AsyncClient(base_url=server[0], timeout=120) as http:
            plain = {"model": model, "max_tokens": 24, "temperature": 0}
            good = [
                http.post("/chat/completions", json={**plain, "messages": ask(f"Count to {i}.")})
                for i in (3, 4, 5)
            ]

            async def bad() -> httpx.Response:
                await asyncio.sleep(0.2)  # while the others run
                body = {"model": model, "messages": ask("hi"), "response_format": bad_format}
                return await http.post("/chat/completions", json=body)

            *answers, refused = await asyncio.gather(*good, bad())
            return answers, refused

    answers, refused = asyncio.run(main())
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert all(r.json()["choices"][0]["message"]["content"] for r in answers)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["param"] == "response_format" and "$ref loops" in error["message"]


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#/$defs/missing"},
        {"anyOf": [{"$ref": "#"}, {"type": "string"}]},
        json.loads('{"items": ' * 80 + "{}" + "}" * 80),
    ],
    ids=["unresolvable", "left-recursive", "too-deep"],
)
def test_schemas_no_grammar_can_enforce_are_400(
    client: openai.OpenAI, model: str, schema: dict[str, object]
) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=model, messages=ask("hi"), response_format=fmt)  # type: ignore[arg-type]
    assert info.value.body["param"] == "response_format"  # type: ignore[index]


def test_an_unexpected_error_is_a_json_500(server: tuple[str, Engine], model: str) -> None:
    # A request the engine fails (its own grammar broke) reaches the client as JSON, too.
    from inference.serve.app import create_app

    engine = server[1]
    app = create_app(engine, model_name=model)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    async def main() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            return await http.get("/boom")

    response = asyncio.run(main())
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["type"] == "server_error"


# -- probe 3: huge bodies ----------------------------------------------------------------


def test_a_body_over_the_limit_is_413_by_content_length_or_chunks(
    server: tuple[str, Engine], model: str
) -> None:
    base = server[0]
    body = json.dumps({"model": model, "messages": ask("word " * BODY_LIMIT)}).encode()
    declared = httpx.post(f"{base}/chat/completions", content=body, timeout=30)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 4096):
            yield body[i : i + 4096]

    chunked = httpx.post(f"{base}/chat/completions", content=chunks(), timeout=30)
    for response in (declared, chunked):
        assert response.status_code == 413
        error = response.json()["error"]
        assert error["code"] == "request_too_large" and f"{BODY_LIMIT} bytes" in error["message"]
    assert httpx.get(base.removesuffix("/v1") + "/health").status_code == 200


def test_a_prompt_the_context_cannot_hold_is_refused_before_tokenizing(
    server: tuple[str, Engine], model: str
) -> None:
    engine = server[1]
    text = "x" * (engine.max_seq_len * engine.tokenizer.max_token_bytes + 1)  # under the limit
    for path, body in (
        ("/chat/completions", {"model": model, "messages": ask(text)}),
        ("/completions", {"model": model, "prompt": text}),
    ):
        response = post(server[0], path, body)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "context_length_exceeded" and "characters" in error["message"]


# -- probe 4: a client that leaves a plain request ---------------------------------------


@pytest.mark.parametrize("path", ["/chat/completions", "/completions"])
def test_a_client_that_leaves_a_plain_request_is_cancelled(
    server: tuple[str, Engine], model: str, path: str
) -> None:
    base, engine = server
    before = engine.stats.finished.get("cancelled", 0)
    body: dict[str, object] = {"model": model, "max_tokens": 400, "temperature": 1.0, "seed": 1}
    body |= {"messages": ask("Write a long essay.")} if "chat" in path else {"prompt": "Once"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{base}{path}", json=body, timeout=1.0)
    left = time.monotonic()
    while engine.stats.finished.get("cancelled", 0) == before:
        assert time.monotonic() - left < 5, "the engine kept generating for a client gone"
        time.sleep(0.05)
    assert not engine.running and engine.prefilling is None


# -- fields: refused when not implemented, honoured when implemented ----------------------


@pytest.mark.parametrize(
    ("field", "value", "param"),
    [
        ("guided_grammar", "root ::= 'a'", "guided_grammar"),
        ("logit_bias", {"42": 10}, "logit_bias"),
        ("presence_penalty", 0.5, "presence_penalty"),
        ("frequency_penalty", 1.0, "frequency_penalty"),
        ("best_of", 2, "best_of"),
        ("structured_outputs", {"grammar": "start: 'a'"}, "structured_outputs.grammar"),
        ("top_logprobs", 2, "top_logprobs"),  # without logprobs: true
    ],
)
def test_unsupported_fields_are_400_naming_them(
    server: tuple[str, Engine], model: str, field: str, value: object, param: str
) -> None:
    body = {"model": model, "messages": ask("hi"), "max_tokens": 2, field: value}
    response = post(server[0], "/chat/completions", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == param and error["message"].startswith(f"{param}: ")


def test_fields_at_values_that_change_nothing_are_accepted(
    server: tuple[str, Engine], model: str
) -> None:
    body = {"model": model, "messages": ask("hi"), "max_tokens": 2, "presence_penalty": 0,
            "frequency_penalty": 0.0, "logit_bias": {}, "parallel_tool_calls": True}  # fmt: skip
    assert post(server[0], "/chat/completions", body).status_code == 200


def test_vllm_guided_fields_shape_the_output(server: tuple[str, Engine], model: str) -> None:
    base = server[0]
    common = {"model": model, "max_tokens": 40, "temperature": 0.8, "seed": 3}
    chat = {**common, "messages": ask("Is the queue empty? Then give a phone number.")}
    schema = {"type": "object", "properties": {"job_id": {"type": "integer"}},
              "required": ["job_id"]}  # fmt: skip

    def content(extra: dict[str, object], path: str = "/chat/completions") -> str:
        response = post(base, path, {**(chat if "chat" in path else common), **extra})
        assert response.status_code == 200, response.text
        choice = response.json()["choices"][0]
        return str(choice["message"]["content"] if "chat" in path else choice["text"])

    assert content({"guided_choice": ["yes", "no"]}) in ("yes", "no")
    assert re.fullmatch(r"\d{3}-\d{4}", content({"guided_regex": r"\d{3}-\d{4}"}))
    jsonschema.validate(json.loads(content({"guided_json": schema})), schema)
    jsonschema.validate(json.loads(content({"guided_json": json.dumps(schema)})), schema)
    assert content({"structured_outputs": {"choice": ["hold", "release"]}}) in ("hold", "release")
    json.loads(content({"structured_outputs": {"json_object": True}}))
    text = content({"prompt": "Job id:", "guided_regex": "[0-9]{4}"}, path="/completions")
    assert re.fullmatch("[0-9]{4}", text)


def test_two_ways_to_shape_the_output_are_400(server: tuple[str, Engine], model: str) -> None:
    body = {"model": model, "messages": ask("hi"), "guided_choice": ["a"], "guided_regex": "b",
            "response_format": {"type": "json_object"}}  # fmt: skip
    response = post(server[0], "/chat/completions", body)
    assert response.status_code == 400 and response.json()["error"]["param"] == "guided_regex"


def test_chat_logprobs_plain_and_streamed(client: openai.OpenAI, model: str) -> None:
    kwargs = {"model": model, "messages": ask("Name three colours."), "max_tokens": 10,
              "temperature": 0, "logprobs": True, "top_logprobs": 2}  # fmt: skip
    out = client.chat.completions.create(**kwargs)  # type: ignore[call-overload]
    content = out.choices[0].logprobs.content
    assert out.usage is not None and len(content) == out.usage.completion_tokens
    assert "".join(t.token for t in content) == out.choices[0].message.content
    for token in content:
        assert len(token.top_logprobs) == 2 and token.logprob <= 0
        assert token.top_logprobs[0].logprob == token.logprob  # greedy: the likeliest
        assert bytes(token.bytes or []).decode() == token.token
    streamed = [
        t
        for chunk in client.chat.completions.create(**kwargs, stream=True)  # type: ignore[call-overload]
        if chunk.choices and chunk.choices[0].logprobs
        for t in chunk.choices[0].logprobs.content
    ]
    assert [(t.token, t.logprob) for t in streamed] == [(t.token, t.logprob) for t in content]
    plain = client.chat.completions.create(model=model, messages=ask("hi"), max_tokens=2)
    assert plain.choices[0].logprobs is None


def test_completion_logprobs(client: openai.OpenAI, model: str) -> None:
    out = client.completions.create(
        model=model, prompt="The sky is", max_tokens=6, temperature=0, logprobs=3
    )
    logprobs = out.choices[0].logprobs
    assert logprobs is not None and logprobs.tokens is not None
    assert "".join(logprobs.tokens) == out.choices[0].text
    assert len(logprobs.token_logprobs or []) == len(logprobs.tokens) == 6
    assert all(len(top) == 3 for top in logprobs.top_logprobs or [])
    offsets = logprobs.text_offset or []
    assert offsets[0] == 0 and offsets == sorted(offsets)


# -- metrics -------------------------------------------------------------------------------


def test_metrics_hold_latency_histograms_and_cache_use(
    server: tuple[str, Engine], client: openai.OpenAI, model: str
) -> None:
    client.chat.completions.create(model=model, messages=ask("Say one word."), max_tokens=4)
    text = httpx.get(server[0].removesuffix("/v1") + "/metrics").text
    for name in (
        "time_to_first_token_seconds",
        "inter_token_latency_seconds",
        "e2e_request_latency_seconds",
    ):
        count = re.search(rf'^schedsight_llm_{name}_bucket{{le="\+Inf"}} (\S+)$', text, re.M)
        assert count is not None and float(count[1]) >= 1, name
        assert f"schedsight_llm_{name}_sum" in text
    for name in (
        "kv_cache_usage_ratio",
        "prefix_cache_queries_total",
        "prefix_cache_hits_total",
        "requests_running",
        "requests_waiting",
    ):
        assert re.search(rf"^schedsight_llm_{name} \S+$", text, re.M), name
    assert "per_second" not in text  # no rate between scrapes: wrong with two scrapers

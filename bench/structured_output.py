"""Schema-constrained generation through the HTTP server: how many outputs parse and validate.

Sends N chat requests (default 240) with `response_format` JSON schemas of several shapes,
sampled (temperature 0.8, a different seed each), 8 at a time, and checks every answer with
`json.loads` and `jsonschema`. Prints the share that parse and validate (the target is 100%).

    python bench/structured_output.py [--requests 240]
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/inference.py would shadow the `inference` package: keep this folder off the path.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import json
import time
from typing import Any

import jsonschema
import openai

from hpc.sim.policy import backfill_names, order_names
from inference.config import EngineConfig
from inference.serve.launcher import running_server

SCHEMAS: dict[str, dict[str, Any]] = {
    "job": {
        "type": "object",
        "properties": {
            "job_id": {"type": "integer", "minimum": 1},
            "nodes": {"type": "integer", "minimum": 1, "maximum": 64},
            "walltime_h": {"type": "number", "minimum": 0, "maximum": 48},
            "partition": {"enum": ["cpu", "gpu", "debug"]},
        },
        "required": ["job_id", "nodes", "walltime_h", "partition"],
        "additionalProperties": False,
    },
    "decision": {
        "type": "object",
        "properties": {
            "action": {"enum": ["hold", "release", "set_priority", "none"]},
            "targets": {
                "type": "array",
                "items": {"type": "integer"},
                "minItems": 1,
                "maxItems": 4,
            },
            "rationale": {"type": "string", "maxLength": 120},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["action", "targets", "rationale"],
        "additionalProperties": False,
    },
    "policy": {
        "type": "object",
        "properties": {
            "order": {"enum": list(order_names())},
            "backfill": {"enum": list(backfill_names())},
            "weights": {
                "type": "object",
                "properties": {"age": {"type": "number"}, "fairshare": {"type": "number"}},
                "required": ["age", "fairshare"],
                "additionalProperties": False,
            },
            "why": {"type": "string", "maxLength": 80},
        },
        "required": ["order", "backfill", "weights"],
        "additionalProperties": False,
    },
    "flags": {
        "type": "object",
        "properties": {
            "drain": {"type": "boolean"},
            "note": {"type": ["string", "null"], "maxLength": 40},
            "nodes": {"type": "array", "items": {"type": "string", "maxLength": 8}, "maxItems": 3},
        },
        "required": ["drain", "note", "nodes"],
        "additionalProperties": False,
    },
}
PROMPTS = {
    "job": "Describe a GPU job that needs 4 nodes for 6 hours, as JSON.",
    "decision": "Should job 1234 be held while the GPU nodes are drained? Answer as JSON.",
    "policy": "Pick a scheduling policy for a cluster with many short jobs. Answer as JSON.",
    "flags": "Should we drain nodes gpu01 and gpu02 for maintenance? Answer as JSON.",
}


async def one(
    client: openai.AsyncOpenAI, model: str, name: str, seed: int
) -> tuple[str, bool, str]:
    schema = SCHEMAS[name]
    out = await client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": PROMPTS[name]}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": True},
        },
        temperature=0.8,
        seed=seed,
        max_tokens=200,
    )
    text = out.choices[0].message.content or ""
    try:
        jsonschema.validate(json.loads(text), schema)
    except (json.JSONDecodeError, jsonschema.ValidationError) as exc:
        return name, False, f"{exc}: {text[:200]!r} (finish: {out.choices[0].finish_reason})"
    return name, True, ""


async def run(base: str, requests: int, parallel: int) -> list[tuple[str, bool, str]]:
    client = openai.AsyncOpenAI(base_url=base, api_key="x", max_retries=0, timeout=600)
    model = (await client.models.list()).data[0].id
    names = list(SCHEMAS)
    gate = asyncio.Semaphore(parallel)

    async def guarded(k: int) -> tuple[str, bool, str]:
        async with gate:
            return await one(client, model, names[k % len(names)], seed=k)

    results = await asyncio.gather(*(guarded(k) for k in range(requests)))
    await client.close()
    return list(results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=240)
    parser.add_argument("--parallel", type=int, default=8)
    args = parser.parse_args()
    with running_server(EngineConfig(max_seq_len=1024)) as (base, _engine):
        t0 = time.perf_counter()
        results = asyncio.run(run(base, args.requests, args.parallel))
        wall = time.perf_counter() - t0
    ok = sum(1 for _, good, _ in results if good)
    print(f"{ok}/{len(results)} schema-constrained answers parse and validate "
          f"({ok / len(results):.1%}) in {wall:.0f} s")  # fmt: skip
    for name in SCHEMAS:
        mine = [good for n, good, _ in results if n == name]
        print(f"  {name:9} {sum(mine)}/{len(mine)}")
    for name, good, why in results:
        if not good:
            print(f"  FAILED {name}: {why}")
    return 0 if ok == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""The what-if reading set (tests/agent/modes/reading_set.jsonl) scored three ways: the rules
alone, the rules with the embedded model (`agent.modes.model_reading.read_question`, what
`agent ask` uses), and the model alone filling the whole schema. Exact means the scenario
equals the expected one, or is refused where the question must be refused.

    python bench/reading_eval.py                      # starts the local model server
    python bench/reading_eval.py --base-url URL/v1    # a running server
    python bench/reading_eval.py --every 4 --alone-every 2   # a sample: every 4th question,
                                                      # the model alone on every 2nd of those

Prints each score with its count and the machine, and writes every reading as JSON lines.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.llm.client import LLMClient, LLMConfig  # noqa: E402
from agent.llm.local_server import llm_endpoint  # noqa: E402
from agent.modes.model_reading import model_alone, read_exactly, read_question  # noqa: E402
from agent.modes.reading import read_rules  # noqa: E402

SET = ROOT / "tests" / "agent" / "modes" / "reading_set.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="", help="a running server (default: start one)")
    parser.add_argument("--alone-every", type=int, default=1,
                        help="the model alone on every Nth question (0: never)")  # fmt: skip
    parser.add_argument("--every", type=int, default=1, help="with the model: every Nth question")
    parser.add_argument("--out", default="/tmp/reading_eval.jsonl")
    args = parser.parse_args()
    cases: list[dict[str, Any]] = [json.loads(line) for line in SET.read_text().splitlines()]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}", flush=True)  # fmt: skip
    rules = sum(read_exactly(c, read_rules(c["q"]).scenario) for c in cases)
    print(f"rules alone: {rules}/{len(cases)} exact ({rules / len(cases):.1%})", flush=True)
    config = LLMConfig(base_url=args.base_url, timeout_s=300, max_retries=0)
    sample = cases[:: max(args.every, 1)]
    combined = alone = alone_n = 0
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack, open(args.out, "w") as out:
        endpoint = stack.enter_context(llm_endpoint(config))
        llm = LLMClient(endpoint)
        stack.callback(llm.close)
        for k, case in enumerate(sample):
            reading = read_question(case["q"], llm)
            ok = read_exactly(case, reading.scenario)
            combined += ok
            row: dict[str, Any] = {"q": case["q"], "with_model": ok, **reading.as_dict()}
            if args.alone_every and k % args.alone_every == 0:
                scenario = model_alone(case["q"], llm)
                row["alone"] = scenario.as_dict() if scenario else None
                row["alone_exact"] = read_exactly(case, scenario)
                alone += row["alone_exact"]
                alone_n += 1
            out.write(json.dumps(row) + "\n")
            out.flush()
            by_alone = {True: ", alone ok", False: ", alone miss", None: ""}
            print(f"  [{k + 1}/{len(sample)}] with model {'ok' if ok else 'MISS'}"
                  f"{by_alone[row.get('alone_exact')]}: {case['q'][:60]}", flush=True)  # fmt: skip
        calls, tokens = llm.usage.calls, llm.usage.completion_tokens
    n = len(sample)
    print(f"rules with the model: {combined}/{n} exact ({combined / n:.1%})")
    if alone_n:
        print(f"model alone: {alone}/{alone_n} exact ({alone / alone_n:.1%})")
    print(
        f"model calls {calls}, completion tokens {tokens}, "
        f"{time.perf_counter() - t0:.0f} s; readings in {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

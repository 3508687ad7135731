"""The engine when one request goes wrong: that request fails alone, with an error event,
and every other request in the batch finishes as if nothing happened (issue 20, probe 1)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import llguidance
import pytest
import torch

from inference.config import EngineConfig
from inference.engine.engine import Engine
from inference.engine.sequence import Event, SamplingParams, Sequence
from inference.loading.loader import default_model_path, load_model
from inference.structured.constraints import JSON_LAYOUT, Constraint, GrammarCompiler

LOOPING_REF = {"$ref": "#/definitions/a", "definitions": {"a": {"$ref": "#/definitions/a"}}}


class Listener:
    """A request's owner: keeps its events and says when the last one came."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.done = threading.Event()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if event.finish_reason is not None:
            self.done.set()

    @property
    def reason(self) -> str | None:
        return self.events[-1].finish_reason if self.done.is_set() else None

    @property
    def text(self) -> str:
        return "".join(e.text for e in self.events)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    engine = Engine(load_model(default_model_path()), EngineConfig(max_seq_len=256, max_batch=8))
    engine.start()
    yield engine
    engine.stop()


def prompt(engine: Engine, text: str) -> list[int]:
    return engine.tokenizer.encode(text)


def submit_many(
    engine: Engine, bad: Callable[[Listener], Sequence], n_good: int = 3
) -> tuple[list[Listener], Listener]:
    """`n_good` plain requests of 12 tokens, the bad one submitted among them."""
    good = [Listener() for _ in range(n_good)]
    greedy = SamplingParams(max_tokens=12, temperature=0.0)
    for i, listener in enumerate(good[:1]):
        engine.submit(prompt(engine, f"Count to {i + 3}."), greedy, listener)
    failing = Listener()
    bad(failing)
    for i, listener in enumerate(good[1:], start=1):
        engine.submit(prompt(engine, f"Count to {i + 3}."), greedy, listener)
    for listener in [*good, failing]:
        assert listener.done.wait(120), "a request never finished"
    return good, failing


def broken_constraint(engine: Engine) -> Constraint:
    """The grammar of probe 1, compiled past the server's checks: it breaks at its first
    token, inside the engine's step."""
    compiler = GrammarCompiler(
        engine.tokenizer.hf, engine.tokenizer.eos_ids, engine.loaded.args.vocab_size
    )
    grammar = llguidance.LLMatcher.grammar_from_json_schema(LOOPING_REF, overrides=JSON_LAYOUT)
    matcher = llguidance.LLMatcher(compiler._tokenizer, grammar, log_level=0)
    return Constraint(matcher, (engine.loaded.args.vocab_size + 31) // 32)


def test_a_broken_grammar_fails_its_request_alone(engine: Engine) -> None:
    params = SamplingParams(max_tokens=12, temperature=0.0)

    def bad(listener: Listener) -> Sequence:
        text = prompt(engine, "Describe a job as JSON.")
        return engine.submit(text, params, listener, broken_constraint(engine))

    good, failing = submit_many(engine, bad)
    assert failing.reason == "error"
    assert "grammar" in (failing.events[-1].error or "")
    assert all(g.reason in ("stop", "length") and not g.events[-1].error for g in good)
    assert all(g.text for g in good)
    assert not engine.running and engine.prefilling is None


def test_a_prompt_the_model_cannot_read_fails_alone(engine: Engine) -> None:
    vocab = engine.loaded.args.vocab_size

    def bad(listener: Listener) -> Sequence:
        params = SamplingParams(max_tokens=12, temperature=0.0)
        return engine.submit([1, 2, vocab + 5], params, listener)  # no such token

    good, failing = submit_many(engine, bad)
    assert failing.reason == "error" and failing.events[-1].error
    assert all(g.reason in ("stop", "length") and not g.events[-1].error for g in good)


def test_an_owner_that_cannot_take_events_does_not_stop_the_others(engine: Engine) -> None:
    def bad(listener: Listener) -> Sequence:
        def gone(event: Event) -> None:
            listener(event)  # recorded, then the owner's loop is closed
            raise RuntimeError("Event loop is closed")

        return engine.submit(prompt(engine, "Say hello."), SamplingParams(max_tokens=8), gone)

    good, failing = submit_many(engine, bad)
    assert failing.reason in ("stop", "length", "error")
    assert all(g.reason in ("stop", "length") and not g.events[-1].error for g in good)
    assert not engine.running


def test_logprobs_are_the_models_own(engine: Engine) -> None:
    listener = Listener()
    params = SamplingParams(max_tokens=6, temperature=0.0, logprobs=3)
    engine.submit(prompt(engine, "The capital of Germany is"), params, listener)
    assert listener.done.wait(60)
    entries = [lp for e in listener.events for lp in e.logprobs]
    ids = [t for e in listener.events for t in e.token_ids]
    assert [lp.token_id for lp in entries] == ids and len(ids) == 6
    for entry in entries:
        assert len(entry.top) == 3
        values = [v for _, v in entry.top]
        assert values == sorted(values, reverse=True)
        assert entry.top[0] == (entry.token_id, entry.logprob)  # greedy takes the likeliest
        assert torch.tensor(values).exp().sum() <= 1.0 + 1e-5


def test_latency_histograms_and_cache_gauges_follow_requests(engine: Engine) -> None:
    stats = engine.stats
    before = (stats.ttft.count, stats.e2e.count, stats.inter_token.count)
    listener = Listener()
    engine.submit(prompt(engine, "Name a colour."), SamplingParams(max_tokens=5), listener)
    assert listener.done.wait(60)
    tokens = sum(len(e.token_ids) for e in listener.events)
    assert stats.ttft.count == before[0] + 1
    assert stats.e2e.count == before[1] + 1
    assert stats.inter_token.count >= before[2] + tokens - 1  # (+1 when EOS ended it)
    assert engine.running_count == 0 and engine.kv_cache_usage == 0.0
    assert stats.prefix_cache_queries >= stats.prefix_cache_hits

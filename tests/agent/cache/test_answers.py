"""The what-if answer cache: the same question on the same state reuses its answer; a
question that merely looks alike (its opposite, another number) never does."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from agent.cache.answers import AnswerCache, intent, normalise, state_version
from agent.errors import EmbeddingUnavailable
from agent.modes.ask import ask, rule_reading
from agent.tools.workspace import Workspace
from hpc.model import Machine
from hpc.sim import Policy
from hpc.workload.cleaning import clean
from hpc.workload.lublin import generate

LOST = "What if we lost 16 nodes next week?"
POLICY = "fcfs:easy"


@pytest.fixture(scope="module")
def encoder():  # type: ignore[no-untyped-def]
    from agent.cache.embedding import SentenceEncoder

    try:
        return SentenceEncoder()
    except EmbeddingUnavailable as exc:
        if os.environ.get("CI"):
            raise  # make install puts it in place: CI must exercise it
        pytest.skip(f"{exc}")


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


def _reading(question: str) -> dict[str, object]:
    return rule_reading(question, POLICY)


def _cache(encoder: object = None, clock: Clock | None = None) -> AnswerCache:
    return AnswerCache(ttl_s=300, encoder=encoder, clock=clock or Clock())  # type: ignore[arg-type]


def test_wording_is_normalised() -> None:
    assert (
        normalise("  What if we LOST 16 nodes, next week?! ")
        == "what if we lost 16 nodes next week"
    )
    assert normalise("Don't drain 4 nodes") == "dont drain 4 nodes"


def test_intent_keeps_numbers_direction_and_negation_apart() -> None:
    base = intent(LOST, _reading(LOST))
    same = "what if we lose 16 nodes next week"
    assert intent(same, _reading(same)) == base
    for other in (
        "What if we added 16 nodes next week?",
        "What if we lost 32 nodes next week?",
        "What if we lost 16 nodes tomorrow?",
        "What if we did not lose 16 nodes next week?",
        "What if we lost 16 GPU nodes next week?",
    ):
        assert intent(other, _reading(other)) != base, other


def test_same_wording_hits_without_embeddings() -> None:
    cache = _cache()
    cache.store(LOST, "v1", _reading(LOST), "answer")
    hit = cache.lookup("what if we lost 16 nodes next week", "v1", _reading(LOST))
    assert hit is not None and hit.answer == "answer" and hit.proposed_by == "text"
    assert cache.lookup("suppose 16 nodes fail next week", "v1", _reading(LOST)) is None


def test_paraphrase_is_proposed_by_embedding_and_confirmed_by_reading(encoder) -> None:  # type: ignore[no-untyped-def]
    cache = _cache(encoder)
    cache.store(LOST, "v1", _reading(LOST), "answer")
    question = "What if we lose 16 nodes next week?"
    hit = cache.lookup(question, "v1", _reading(question))
    assert hit is not None and hit.proposed_by == "embedding"
    assert hit.similarity >= cache.min_similarity and hit.question == LOST


def test_opposite_question_looks_alike_but_is_refused(encoder) -> None:  # type: ignore[no-untyped-def]
    cache = _cache(encoder)
    cache.store(LOST, "v1", _reading(LOST), "answer")
    opposite = "What if we added 16 nodes next week?"
    vectors = encoder.encode([LOST, opposite])
    assert float(vectors[0] @ vectors[1]) >= cache.min_similarity  # alike to the embedding
    assert cache.lookup(opposite, "v1", _reading(opposite)) is None
    assert cache.stats.refused == 1 and cache.stats.hits == 0


def test_answers_expire_and_belong_to_one_state() -> None:
    clock = Clock()
    cache = _cache(clock=clock)
    cache.store(LOST, "v1", _reading(LOST), "answer")
    assert cache.lookup(LOST, "v2", _reading(LOST)) is None  # the cluster changed
    clock.now = 299.0
    assert cache.lookup(LOST, "v1", _reading(LOST)) is not None
    clock.now = 301.0
    assert cache.lookup(LOST, "v1", _reading(LOST)) is None
    assert cache.stats.expired == 1 and not cache.entries


def test_ttl_comes_from_the_environment_and_zero_turns_reuse_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from schedsight.settings import Settings

    monkeypatch.setenv("SCHEDSIGHT_ANSWER_TTL_S", "0")
    ttl = Settings().answer_ttl_s
    assert ttl == 0
    cache = AnswerCache(ttl_s=ttl, clock=Clock())
    cache.store(LOST, "v1", _reading(LOST), "answer")
    assert not cache.entries and cache.lookup(LOST, "v1", _reading(LOST)) is None
    monkeypatch.setenv("SCHEDSIGHT_ANSWER_TTL_S", "-5")
    with pytest.raises(ValueError, match="answer_ttl_s"):
        Settings()


def test_cache_is_bounded() -> None:
    cache = AnswerCache(max_entries=3)
    for n in range(5):
        question = f"what if we lost {n + 1} nodes?"
        cache.store(question, "v1", _reading(question), n)
    assert [e.answer for e in cache.entries] == [2, 3, 4]


def _workspace(seed: int = 5, policy: str = "fcfs:easy") -> Workspace:
    machine = Machine.cluster(32, 8)
    jobs, _ = clean(generate(300, seed=seed, procs=machine.total_procs), machine=machine)
    return Workspace(jobs, machine, policy=Policy.parse(policy))


def test_state_version_follows_workload_and_policy() -> None:
    assert state_version(_workspace()) == state_version(_workspace())
    assert state_version(_workspace(seed=6)) != state_version(_workspace())
    assert state_version(_workspace(policy="sjf:easy")) != state_version(_workspace())


def test_ask_answers_a_repeat_from_the_cache_and_says_so() -> None:
    workspace = _workspace()
    cache = AnswerCache()
    first = ask(LOST, workspace, None, cache=cache)
    again = ask("what if we LOST 16 nodes next week", workspace, None, cache=cache)
    assert again.scenario == first.scenario and again.answer == first.answer
    assert "answered from the cache" in again.notes[-1]
    assert again.record is not None and again.record.chosen_by == "cache"
    assert again.record.question == "what if we LOST 16 nodes next week"
    other = ask("what if we lost 8 nodes next week?", workspace, None, cache=cache)
    assert other.whatif.node_delta == -8 and "cache" not in other.extra
    assert (cache.stats.hits, len(cache.entries)) == (1, 2)

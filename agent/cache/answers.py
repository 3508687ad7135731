"""Answers to repeated what-if questions, reused only when they are the same question.

An entry is keyed on the cluster-state version (the workload, machine and policy it was
simulated on) and the question's *intent*: its deterministic reading (every number, time
phrase and policy name it states: `agent.modes.ask.rule_reading`, given by the caller) plus the
direction and negation words it uses. A later question reuses an answer only when the state
version is the same, the entry is younger than `ttl_s`, and its intent equals the entry's.

Candidates come from the normalised text, else from the nearest earlier question by
sentence embedding (agent/cache/embedding.py) above `min_similarity`. The embedding only proposes:
"what if we lost 16 nodes next week?" and "... added 16 nodes ..." are 0.87 alike, and their
intents differ, so the second is answered afresh.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from agent.errors import EmbeddingUnavailable
from agent.tools.workspace import Workspace

if TYPE_CHECKING:  # torch is imported where vectors are compared: `agent ask` needs none
    import torch

log = logging.getLogger(__name__)

# Words that flip or scope a what-if; two questions must use the same ones.
DIRECTIONS = {
    "loss": {"lose", "lost", "losing", "loses", "fail", "fails", "failed", "failing",
             "failure", "down", "drain", "drained", "offline", "remove", "removed", "outage",
             "die", "dies", "dead", "broken", "shrink", "fewer", "less"},
    "gain": {"add", "added", "adding", "gain", "gained", "extra", "more", "new", "buy",
             "bought", "expand", "expanded", "upgrade", "double", "grow", "return", "returns",
             "back", "restore", "restored"},
    "negation": {"not", "no", "never", "without", "dont", "doesnt", "didnt", "wont", "isnt",
                 "arent", "cannot", "cant", "nor"},
    "gpu": {"gpu", "gpus", "accelerator", "accelerators"},
}  # fmt: skip
NUMBER = re.compile(r"\d+(?:\.\d+)?")


class Encoder(Protocol):
    def encode(self, sentences: list[str]) -> torch.Tensor: ...


def normalise(question: str) -> str:
    """Lower case, apostrophes dropped, punctuation to spaces, single spaces."""
    text = question.lower().replace("'", "").replace("’", "")
    return " ".join(re.sub(r"[^a-z0-9.%]+", " ", text).split()).strip(" .")


def intent(question: str, reading: Mapping[str, Any]) -> tuple[Any, ...]:
    """What the question says, deterministically: its reading, numbers and marker words."""
    words = set(normalise(question).split())
    markers = tuple(sorted(kind for kind, vocab in DIRECTIONS.items() if words & vocab))
    numbers = tuple(sorted(NUMBER.findall(question)))
    return (tuple(sorted(reading.items())), markers, numbers)


def state_version(workspace: Workspace) -> str:
    """A digest of what an answer was simulated on: jobs, machine, policy and snapshot time."""
    digest = hashlib.sha256()
    jobs = workspace.jobs
    for name in ("submit_s", "run_s", "req_time_s", "procs", "user"):
        digest.update(np.ascontiguousarray(getattr(jobs, name)).tobytes())
    digest.update(repr((workspace.machine, workspace.policy, workspace.now_s)).encode())
    return digest.hexdigest()[:16]


@dataclass(slots=True)
class Entry:
    question: str
    text: str  # normalised
    intent: tuple[Any, ...]
    version: str
    created_s: float
    vector: torch.Tensor | None
    answer: Any


@dataclass(frozen=True, slots=True)
class Hit:
    answer: Any
    question: str  # the earlier question whose answer is reused
    age_s: float
    similarity: float  # 1.0 for the same normalised text
    proposed_by: str  # "text" or "embedding"


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    refused: int = 0  # a candidate was proposed but its intent differed
    expired: int = 0


@dataclass(slots=True)
class AnswerCache:
    """In-process cache; `encoder=None` proposes by normalised text only."""

    ttl_s: float = 300.0
    max_entries: int = 256
    min_similarity: float = 0.8
    encoder: Encoder | None = None
    clock: Callable[[], float] = time.monotonic
    entries: list[Entry] = field(default_factory=list)
    stats: CacheStats = field(default_factory=CacheStats)

    def lookup(self, question: str, version: str, reading: Mapping[str, Any]) -> Hit | None:
        """An earlier answer to the same question on the same state, or None."""
        now = self.clock()
        self._expire(now)
        live = [e for e in self.entries if e.version == version]
        text = normalise(question)
        proposal = next((e for e in reversed(live) if e.text == text), None)
        similarity, how = 1.0, "text"
        if proposal is None and live and self.encoder is not None:
            proposal, similarity = self._nearest(question, live)
            how = "embedding"
        if proposal is None or similarity < self.min_similarity:
            self.stats.misses += 1
            return None
        if proposal.intent != intent(question, reading):
            self.stats.refused += 1
            self.stats.misses += 1
            log.info("answer cache: %r looks like %r but means otherwise", question,
                     proposal.question)  # fmt: skip
            return None
        self.stats.hits += 1
        return Hit(proposal.answer, proposal.question, now - proposal.created_s, similarity, how)

    def store(self, question: str, version: str, reading: Mapping[str, Any], answer: Any) -> None:
        if self.ttl_s <= 0:  # reuse is off
            return
        vector = self.encoder.encode([question])[0] if self.encoder is not None else None
        entry = Entry(question, normalise(question), intent(question, reading), version,
                      self.clock(), vector, answer)  # fmt: skip
        self.entries.append(entry)
        del self.entries[: max(0, len(self.entries) - self.max_entries)]  # oldest first

    def _nearest(self, question: str, live: list[Entry]) -> tuple[Entry | None, float]:
        import torch

        assert self.encoder is not None
        with_vectors = [e for e in live if e.vector is not None]
        if not with_vectors:
            return None, 0.0
        query = self.encoder.encode([question])[0]
        sims = torch.stack([e.vector for e in with_vectors if e.vector is not None]) @ query
        best = int(torch.argmax(sims))
        return with_vectors[best], float(sims[best])

    def _expire(self, now: float) -> None:
        fresh = [e for e in self.entries if now - e.created_s <= self.ttl_s]
        self.stats.expired += len(self.entries) - len(fresh)
        self.entries = fresh


def answer_cache(ttl_s: float = 300.0) -> AnswerCache:
    """A cache proposing by embedding when the model's package is installed, else by wording."""
    from agent.cache.embedding import SentenceEncoder

    try:
        encoder: Encoder | None = SentenceEncoder()
    except EmbeddingUnavailable as exc:
        log.warning("answer cache: %s; proposing by exact wording only", exc)
        encoder = None
    return AnswerCache(ttl_s=ttl_s, encoder=encoder)

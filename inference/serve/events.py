"""A request's engine events as the server reads them: submitted, awaited under the time
limit, cancelled when the client leaves (streaming or not), and collected into one answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from inference.engine.engine import Engine
from inference.engine.sequence import Event, SeqStatus, Sequence, TokenLogprob
from inference.errors import ClientGoneError, InferenceError, RequestTimeoutError
from inference.serve.chat import Prepared

Disconnected = Callable[[], Awaitable[bool]]  # Starlette's Request.is_disconnected

# How often a request with no new event asks whether its client is still there.
DISCONNECT_POLL_S = 0.25


async def engine_events(
    engine: Engine,
    prepared: Prepared,
    timeout_s: float,
    *,
    live: bool = True,
    disconnected: Disconnected | None = None,
) -> AsyncIterator[Event]:
    """Submit to the engine and yield its events; cancel the sequence if we stop listening
    (the caller's task ends, the time limit passes, or `disconnected` says the client left).

    `live=False` (a caller that only wants the whole answer): the engine's thread keeps the
    events and hands them over at the end, one wake-up of this loop per request instead of
    one per token, each of which takes a core from the model's threads on a small machine.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Event] = asyncio.Queue()
    kept: list[Event] = []

    def hand_over() -> None:
        for event in kept:
            queue.put_nowait(event)

    def emit(event: Event) -> None:
        if live:
            loop.call_soon_threadsafe(queue.put_nowait, event)
            return
        kept.append(event)  # only the engine's thread appends, and the last one comes last
        if event.finish_reason is not None:
            loop.call_soon_threadsafe(hand_over)

    seq: Sequence = engine.submit(prepared.prompt_ids, prepared.params, emit, prepared.constraint)
    deadline = loop.time() + timeout_s
    late = f"the request ran past the server's limit of {timeout_s:g} s"
    try:
        while True:
            event = await _next(queue, deadline, late, disconnected)
            ready = [event]
            while not queue.empty() and ready[-1].finish_reason is None:
                ready.append(queue.get_nowait())
            for merged in coalesce(ready):
                yield merged
                if merged.finish_reason is not None:
                    return
    finally:
        if seq.status is not SeqStatus.FINISHED:
            engine.cancel(seq)


async def _next(
    queue: asyncio.Queue[Event], deadline: float, late: str, disconnected: Disconnected | None
) -> Event:
    loop = asyncio.get_running_loop()
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise RequestTimeoutError(late)
        wait_s = min(remaining, DISCONNECT_POLL_S) if disconnected else remaining
        try:
            return await asyncio.wait_for(queue.get(), wait_s)
        except TimeoutError:
            if disconnected is not None and await disconnected():
                raise ClientGoneError("the client closed the connection") from None


def coalesce(events: list[Event]) -> list[Event]:
    """Events that arrived together as few as possible: consecutive text joined, so that one
    engine step's tokens (a verified speculative draft) go out as one SSE chunk, not one
    wake-up and one chunk each. An error event stays apart, after the text before it."""
    out: list[Event] = []
    for event in events:
        last = out[-1] if out else None
        if last is None or last.finish_reason is not None or last.error or event.error:
            out.append(event)
            continue
        out[-1] = Event(
            text=last.text + event.text,
            token_ids=last.token_ids + event.token_ids,
            logprobs=last.logprobs + event.logprobs,
            finish_reason=event.finish_reason,
        )
    return out


class Tally:
    """A request's events as its answer reads them: an engine error raised, tokens counted
    (every token the engine generated, for `usage`)."""

    def __init__(self, events: AsyncIterator[Event]) -> None:
        self.events = events
        self.tokens = 0

    async def __aiter__(self) -> AsyncIterator[Event]:
        async for event in self.events:
            if event.error:
                raise InferenceError(event.error)
            self.tokens += len(event.token_ids)
            yield event


@dataclass(slots=True)
class Answer:
    """A whole (non-streamed) answer."""

    text: str = ""
    finish_reason: str = "stop"
    tokens: int = 0
    logprobs: list[TokenLogprob] = field(default_factory=list)


async def collect(
    engine: Engine, prepared: Prepared, timeout_s: float, disconnected: Disconnected
) -> Answer:
    """Wait for the whole answer; the sequence is cancelled if the client leaves first."""
    answer = Answer()
    parts: list[str] = []
    events = engine_events(engine, prepared, timeout_s, live=False, disconnected=disconnected)
    tally = Tally(events)
    async for event in tally:
        parts.append(event.text)
        answer.logprobs.extend(event.logprobs)
        if event.finish_reason is not None:
            answer.finish_reason = event.finish_reason
    answer.text, answer.tokens = "".join(parts), tally.tokens
    return answer

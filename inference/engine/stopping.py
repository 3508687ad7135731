"""Stop sequences: where the output must end, and how much of it is safe to stream yet."""

from __future__ import annotations


class StopChecker:
    """Text after the first stop string is dropped; text that could still grow into a stop
    string is held back from the stream until it cannot."""

    __slots__ = ("hold", "stops")

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(s for s in stops if s)
        self.hold = max((len(s) for s in self.stops), default=1) - 1

    def find(self, text: str) -> int | None:
        """Index where the earliest stop string starts, or None."""
        hits = [i for i in (text.find(s) for s in self.stops) if i >= 0]
        return min(hits) if hits else None

    def safe_length(self, text: str) -> int:
        """How many characters of `text` can be sent without risking a partial stop string."""
        if not self.stops:
            return len(text)
        for k in range(min(self.hold, len(text)), 0, -1):
            tail = text[-k:]
            if any(s.startswith(tail) for s in self.stops):
                return len(text) - k
        return len(text)

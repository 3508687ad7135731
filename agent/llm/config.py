"""Where the agent's model lives: `LLMConfig`, in a module of its own so that the local
server can be started (`agent.llm.local_server`) before the `openai` client is imported.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LLMConfig:
    """Where the model lives and how patient to be (from `SCHEDSIGHT_LLM_*` settings)."""

    base_url: str = ""  # empty: the embedded model on a local server started on demand
    model: str = ""  # empty: the first model the server lists
    api_key: str = "unused"  # a local server needs none; never put a real key in a file
    timeout_s: float = 60.0
    max_retries: int = 1  # transport-level retries (the client's own backoff)
    temperature: float = 0.0

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError("LLM timeout must be positive")
        if self.max_retries < 0:
            raise ValueError("LLM max_retries must be >= 0")

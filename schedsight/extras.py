"""Optional parts of the install: which extra brings which module, and the one-line error a
command prints when its extra is missing (`pip install 'schedsight[llm]'`)."""

from __future__ import annotations

# The top-level modules each extra brings (pyproject.toml's [project.optional-dependencies]).
EXTRA_OF_MODULE = {
    "torch": "llm",
    "gguf": "llm",
    "tokenizers": "llm",
    "jinja2": "llm",
    "llguidance": "llm",
    "fastapi": "llm",
    "uvicorn": "llm",
    "prometheus_client": "llm",
    "safetensors": "llm",
    "openai": "agent",
    "httpx": "agent",
    "streamlit": "dashboard",
    "altair": "dashboard",
    "lightgbm": "predict",
    "matplotlib": "predict",
    "ortools": "solver",
    "psycopg": "postgres",
}
# Commands whose web stack comes with another extra than the LLM server's.
EXTRA_OF_COMMAND = {"serve-api": "api"}


def needs_extra(exc: ImportError, command: str | None) -> str | None:
    """The message for an ImportError of a module that an extra brings; None for any other
    (a missing core module is a broken install, and keeps its traceback)."""
    name = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(name)
    if extra is None:
        return None
    if extra == "llm" and command in EXTRA_OF_COMMAND:
        extra = EXTRA_OF_COMMAND[command]
    what = f"`{command}`" if command else "this command"
    return f"{what} needs the {extra} extra: pip install 'schedsight[{extra}]'"

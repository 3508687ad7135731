"""Tools generated from typed, documented functions: schema, validation, errors as observations."""

from __future__ import annotations

from typing import Literal

from agent.tools.toolbox import Toolbox, tool


def hold(job_id: int, mode: Literal["soft", "hard"] = "soft") -> dict[str, object]:
    """Put a job on hold.

    Args:
        job_id: the job to hold.
        mode: how firmly.
    """
    return {"held": job_id, "mode": mode}


def test_schema_comes_from_hints_and_docstring() -> None:
    spec = tool(hold).spec()["function"]
    assert spec["name"] == "hold" and spec["description"] == "Put a job on hold."
    props = spec["parameters"]["properties"]
    assert (
        props["job_id"]["type"] == "integer"
        and props["job_id"]["description"] == "the job to hold."
    )
    assert props["mode"]["enum"] == ["soft", "hard"]
    assert spec["parameters"]["required"] == ["job_id"]
    assert spec["parameters"]["additionalProperties"] is False


def test_calls_are_validated_and_failures_become_observations() -> None:
    box = Toolbox([tool(hold)])
    assert box.call("hold", '{"job_id": 3}')[0] == '{"held":3,"mode":"soft"}'
    _, error, _ = box.call("hold", '{"job_id": "x"}')
    assert error is not None and "job_id" in error
    _, error, _ = box.call("hold", '{"job_id": 3, "extra": 1}')
    assert error is not None
    _, error, _ = box.call("cancel_everything", "{}")
    assert error is not None and "unknown tool" in error

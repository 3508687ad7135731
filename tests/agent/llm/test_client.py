"""The LLM client: validation, one repair attempt, then a typed failure; usage counted."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from agent.errors import LLMOutputInvalid
from tests.agent.conftest import content


class Answer(BaseModel):
    pick: int


def test_a_valid_reply_is_parsed_and_counted(recorded) -> None:  # type: ignore[no-untyped-def]
    llm, sent = recorded([content('{"pick": 2}')])
    reply = llm.structured([{"role": "user", "content": "go"}], Answer, name="answer")
    assert reply.value.pick == 2 and not reply.repaired
    assert (
        sent.requests[0]["response_format"]["json_schema"]["schema"]["additionalProperties"]
        is False
    )
    assert llm.usage.calls == 1 and llm.usage.prompt_tokens == 11


def test_an_invalid_reply_gets_one_repair_with_the_error(recorded) -> None:  # type: ignore[no-untyped-def]
    llm, sent = recorded([content('{"pick": "two"}'), content('{"pick": 2}')])
    reply = llm.structured([{"role": "user", "content": "go"}], Answer, name="answer")
    assert reply.repaired and reply.value.pick == 2
    assert "Invalid: pick" in sent.requests[1]["messages"][-1]["content"]


def test_two_invalid_replies_raise_for_the_fallback(recorded) -> None:  # type: ignore[no-untyped-def]
    llm, sent = recorded([content("not json"), content("still not")])
    with pytest.raises(LLMOutputInvalid):
        llm.structured([{"role": "user", "content": "go"}], Answer, name="answer")
    assert len(sent.requests) == 2 and llm.usage.failures == 1


def test_usage_as_dict_holds_the_counters_and_no_lock() -> None:
    from agent.llm.client import Usage

    usage = Usage()
    usage.add(10, 3, 0.5)
    assert usage.as_dict() == {"calls": 1, "prompt_tokens": 10, "completion_tokens": 3,
                               "wall_s": 0.5, "repairs": 0, "failures": 0}  # fmt: skip

"""Chat templates: SmolLM2's own template, the ChatML fallback, tools for templates that ignore
them, and the sandbox a model's template runs in.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from inference.errors import ModelLoadError, RequestError
from inference.loading.chat_template import CHATML, render_chat, tools_system_prompt
from inference.loading.gguf_header import read_header
from inference.loading.loader import default_model_path

QUEUE_TOOL = {
    "type": "function",
    "function": {
        "name": "get_queue",
        "description": "Pending jobs of a user",
        "parameters": {
            "type": "object",
            "properties": {"user": {"type": "string"}},
            "required": ["user"],
        },
    },
}
CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "When does job 42 start?"},
    {"role": "assistant", "content": "At 12:00."},
    {"role": "user", "content": 'Why not "sooner" <now>?'},
]


@pytest.fixture(scope="module")
def smollm_template() -> str:
    try:
        path = default_model_path()
    except ModelLoadError as exc:
        pytest.skip(str(exc))
    template = read_header(path).metadata["tokenizer.chat_template"]
    assert isinstance(template, str)
    return template


def test_smollm_template_adds_its_default_system_prompt(smollm_template: str) -> None:
    text = render_chat(smollm_template, [{"role": "user", "content": "Hi"}])
    assert text == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
        "<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )


def test_smollm_template_keeps_a_given_system_prompt(smollm_template: str) -> None:
    text = render_chat(smollm_template, CONVERSATION, add_generation_prompt=False)
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>\n")
    assert text.endswith('<|im_start|>user\nWhy not "sooner" <now>?<|im_end|>\n')


def test_missing_template_falls_back_to_chatml() -> None:
    assert render_chat(None, CONVERSATION[:2]) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nWhen does job 42 start?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_tools_go_to_the_system_prompt_when_the_template_ignores_them() -> None:
    text = render_chat(None, CONVERSATION[:2], tools=[QUEUE_TOOL])
    assert text.startswith("<|im_start|>system\nBe brief.\n\nYou can call these tools.")
    assert json.dumps(QUEUE_TOOL["function"]) in text
    without_system = render_chat(None, CONVERSATION[1:2], tools=[QUEUE_TOOL])
    assert without_system.startswith("<|im_start|>system\nYou can call these tools.")


def test_tools_system_prompt_asks_for_the_json_call_the_server_parses() -> None:
    prompt = tools_system_prompt([QUEUE_TOOL, {"name": "cancel", "description": "Cancel"}])
    lines = prompt.splitlines()
    assert json.loads(lines[1])["name"] == "get_queue"
    assert json.loads(lines[2]) == {
        "name": "cancel",
        "description": "Cancel",
        "parameters": {"type": "object", "properties": {}},
    }
    assert '{"name": <tool name>, "arguments":' in lines[-1]


def test_a_template_that_renders_tools_gets_them() -> None:
    template = "{% for t in tools %}{{ t.function.name }};{% endfor %}{{ messages[-1].content }}"
    assert render_chat(template, CONVERSATION[1:2], tools=[QUEUE_TOOL]) == (
        "get_queue;When does job 42 start?"
    )


def test_helpers_behave_as_in_transformers() -> None:
    template = (
        "{{ messages[0].content | tojson }}|{{ {'a': [1]} | tojson(indent=1) }}|{{ bos_token }}"
    )
    assert render_chat(template, [{"role": "user", "content": "<é>"}], bos_token="<s>") == (
        '"<é>"|{\n "a": [\n  1\n ]\n}|<s>'
    )
    loop = (
        "{% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}"
        "{{ m.role }}{% endfor %}"
    )
    assert render_chat(loop, CONVERSATION) == "system"


def test_message_content_is_made_a_string() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": None},
    ]
    assert render_chat(CHATML, messages, add_generation_prompt=False) == (
        "<|im_start|>user\nab<|im_end|>\n<|im_start|>assistant\n<|im_end|>\n"
    )


def test_template_errors_become_request_errors() -> None:
    template = (
        "{% if messages[0].role != 'system' %}{{ raise_exception('system first') }}{% endif %}"
    )
    with pytest.raises(RequestError, match="system first") as info:
        render_chat(template, CONVERSATION[1:])
    assert info.value.param == "messages"


def test_the_template_runs_sandboxed() -> None:
    for template in [
        "{{ ().__class__.__base__.__subclasses__() }}",
        "{% set _ = messages.append({'role': 'x'}) %}",
    ]:
        with pytest.raises(RequestError):
            render_chat(template, CONVERSATION)


def test_a_template_that_does_not_compile_is_a_model_error() -> None:
    with pytest.raises(ModelLoadError, match="does not compile"):
        render_chat("{% for %}", CONVERSATION)


@pytest.mark.slow
def test_renders_like_transformers(smollm_template: str) -> None:
    transformers = pytest.importorskip("transformers")
    path = default_model_path()
    reference = transformers.AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    for messages in (CONVERSATION, CONVERSATION[1:2]):
        for generation_prompt in (True, False):
            ours = render_chat(smollm_template, messages, add_generation_prompt=generation_prompt)
            theirs = reference.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=generation_prompt
            )
            assert ours == theirs

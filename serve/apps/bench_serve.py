"""``scotd bench serve``: time to first token and decode speed of a model as served.

Each question is asked twice per model, side by side in one run: straight through
the engine (what ``scotd chat`` and the Gradio app do) and as a streaming request
to the OpenAI-compatible API on a local uvicorn server (what a client sees, HTTP
and server-sent events included). Writes ``docs/bench_serve.json`` and ``.md``.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

from serve.apps.reply import stream_reply
from serve.core.config import option, parse_args, to_dict
from serve.core.paths import project_root
from serve.core.student_format import student_messages
from serve.engines.interface import Engine, SamplingParams

QUESTIONS = [
    "Would a pear sink in water? Think step by step.",
    "It is 4/19/1969 today. What is the date one week ago from today in MM/DD/YYYY? Think step by step.",
    "Alice has 3 apples and buys 5 more, then eats 2. How many apples does she have? Think step by step.",
    "Is it possible to walk from Paris to London without swimming? Think step by step.",
    "Which is heavier, a kilogram of feathers or a kilogram of iron? Think step by step.",
]


@dataclass
class ServeBenchConfig:
    models: list[str] = option(help="models to time (names or folders); default: the default served model",
                               default_factory=list)
    backend: Literal["auto", "torch", "onnx"] = option("auto", "engine backend: auto, torch or onnx")
    max_new_tokens: int = option(128, "tokens generated per question")
    questions: int = option(5, "questions asked per model (at most 5)")
    out: str = option("docs/bench_serve", "output path without extension (.json and .md are written)")


def _median(values: list[float]) -> Optional[float]:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def time_engine(engine: Engine, questions: list[str], sampling: SamplingParams) -> dict:
    ttft, speed, tokens = [], [], []
    for question in questions:
        reply = list(stream_reply(engine, question, None, sampling))[-1]
        ttft.append(reply.ttft_s)
        speed.append(reply.decode_tok_s)
        tokens.append(reply.tokens)
    return {"ttft_s": _median(ttft), "decode_tok_s": _median(speed), "tokens": _median(tokens)}


def time_api(engine: Engine, model_id: str, questions: list[str], sampling: SamplingParams) -> dict:
    import httpx
    import uvicorn

    from serve.apps.api import create_api

    with_port = uvicorn.Config(create_api(engine, model_id), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(with_port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    ttft, speed = [], []
    try:
        for question in questions:
            body = {"model": model_id, "messages": student_messages(question), "temperature": 0,
                    "max_tokens": sampling.max_new_tokens, "stream": True}
            text, first, start = "", None, time.perf_counter()
            with httpx.stream("POST", f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=600) as r:
                for line in r.iter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    for choice in json.loads(line[6:]).get("choices", []):
                        piece = choice["delta"].get("content") or ""
                        if piece and first is None:
                            first = time.perf_counter() - start
                        text += piece
            elapsed = time.perf_counter() - start
            tokens = engine.count_tokens(text)
            ttft.append(first)
            speed.append((tokens - 1) / (elapsed - first) if first is not None and tokens > 1 else None)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return {"ttft_s": _median(ttft), "decode_tok_s": _median(speed)}


def run(cfg: ServeBenchConfig) -> dict:
    from serve.apps.model_pick import model_label, resolve_serving_model
    from serve.engines.interface import load_engine

    questions = QUESTIONS[: max(1, min(cfg.questions, len(QUESTIONS)))]
    sampling = SamplingParams(max_new_tokens=cfg.max_new_tokens)
    rows = []
    for model in cfg.models or [None]:
        model_dir = resolve_serving_model(model)
        start = time.perf_counter()
        engine = load_engine(model_dir, backend=cfg.backend)
        load_s = time.perf_counter() - start
        list(stream_reply(engine, "Warm up.", None, SamplingParams(max_new_tokens=4)))
        label = model_label(model_dir)
        print(f"[scotd bench serve] timing {label} ({engine.backend})", file=sys.stderr, flush=True)
        rows.append({"model": label, "backend": engine.backend, "load_s": load_s,
                     "engine": time_engine(engine, questions, sampling),
                     "api": time_api(engine, "bench", questions, sampling)})
        engine.close()
    return {"config": to_dict(cfg), "machine": {"cpu": platform.processor() or platform.machine(),
                                                "python": platform.python_version()},
            "questions": questions, "results": rows}


def markdown(result: dict) -> str:
    fmt = lambda v, spec: "-" if v is None else format(v, spec)
    lines = ["| model | backend | load s | TTFT s (engine) | decode tok/s (engine) | TTFT s (HTTP API) "
             "| decode tok/s (HTTP API) | tokens/reply |", "|---|---|---|---|---|---|---|---|"]
    for row in result["results"]:
        e, a = row["engine"], row["api"]
        lines.append(f"| {row['model']} | {row['backend']} | {row['load_s']:.1f} | {fmt(e['ttft_s'], '.3f')} | "
                     f"{fmt(e['decode_tok_s'], '.1f')} | {fmt(a['ttft_s'], '.3f')} | {fmt(a['decode_tok_s'], '.1f')} "
                     f"| {fmt(e['tokens'], '.0f')} |")
    return ("Medians over the questions in bench_serve.json; greedy, up to "
            f"{result['config']['max_new_tokens']} new tokens; engine and API timed in the same run.\n\n"
            + "\n".join(lines) + "\n")


def main(argv: list[str]) -> int:
    cfg = parse_args(ServeBenchConfig, argv, prog="scotd bench serve",
                     description="Time to first token and decode tok/s as served (engine and HTTP API).")
    result = run(cfg)
    out = Path(cfg.out) if Path(cfg.out).is_absolute() else project_root() / cfg.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0

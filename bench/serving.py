"""``scotd bench serve``: time to first token and decode speed of a model as served.

Each question is asked twice per model, side by side in one run: straight through
the engine (what ``scotd chat`` and the Gradio app do) and as a streaming request
to the OpenAI-compatible API on a local uvicorn server (what a client sees, HTTP
and server-sent events included). Writes ``docs/bench_serve.json`` and ``.md``.

``--concurrency N`` adds a load test (``bench.serve_load``): N concurrent clients with a
mix of normal and hostile requests against the API on 127.0.0.1; every request must end
complete, refused with a 4xx, or told to retry (429). Writes ``docs/bench/serve_load.json``
and its section of ``docs/BENCHMARKS.md``.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal, Optional

from serve.apps.reply import stream_reply
from serve.core.config import option, parse_args, to_dict
from serve.core.paths import project_root
from serve.core.provenance import cpu_kind, resident_mb
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
    concurrency: int = option(0, "> 0: also a load test with this many concurrent clients against the API")
    load_requests: int = option(96, "load test: requests in all, in turn from the load_mix")
    load_mix: Literal["mixed", "normal"] = option("mixed", "load test: mixed (normal and hostile requests) or normal "
                                                           "(streaming, plain and n=3 only)")
    load_max_new_tokens: int = option(48, "load test: max_tokens of the normal requests")
    max_queue: int = option(32, "load test: the server's wait queue (beyond it: 429)")
    batch_rows: list[int] = option(default_factory=lambda: [1, 8],
                                   help="load test: one run per value of the server's batch_rows (1: one request at "
                                        "a time); the tokens/s ratio is against the first")
    json_out: str = option("docs/bench/serve_load.json", "load test: where the JSON result goes ('': none)",
                           aliases=("--load_json",))
    markdown: str = option("docs/BENCHMARKS.md", "load test: markdown file whose serving-load section is rewritten")


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


@contextmanager
def local_server(app) -> Iterator[str]:
    """``app`` served by uvicorn on a free 127.0.0.1 port in a thread; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the benchmark's uvicorn server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def time_api(engine: Engine, model_id: str, questions: list[str], sampling: SamplingParams) -> dict:
    import httpx

    from serve.apps.api import create_api

    ttft, speed = [], []
    with local_server(create_api(engine, model_id)) as url:
        for question in questions:
            body = {"model": model_id, "messages": student_messages(question), "temperature": 0,
                    "max_tokens": sampling.max_new_tokens, "stream": True}
            text, first, start = "", None, time.perf_counter()
            with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=600) as r:
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
    return {"ttft_s": _median(ttft), "decode_tok_s": _median(speed)}


def load(engine: Engine, model_id: str, cfg: ServeBenchConfig) -> list[dict]:
    """One load test per ``batch_rows`` value, one after another on the same loaded engine."""
    from serve.apps.api import create_api
    from bench.serve_load import MIXES, run_load

    runs = []
    for rows in cfg.batch_rows:
        before = resident_mb()
        with local_server(create_api(engine, model_id, max_queue=cfg.max_queue, batch_rows=rows)) as url:
            result = run_load(f"{url}/v1", model_id, clients=cfg.concurrency, requests=cfg.load_requests,
                              max_tokens=cfg.load_max_new_tokens, mix=cfg.load_mix)
        summary = result.summary()
        summary.update(clients=cfg.concurrency, batch_rows=rows, mix=MIXES[cfg.load_mix], max_queue=cfg.max_queue,
                       rss_before_mb=before, rss_after_mb=resident_mb(),
                       lost=[{"kind": o.kind, "status": o.status, "detail": o.detail} for o in result.unexpected()][:10])
        runs.append(summary)
    return runs


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
        row = {"model": label, "backend": engine.backend, "load_s": load_s,
               "engine": time_engine(engine, questions, sampling), "api": time_api(engine, "bench", questions, sampling)}
        if cfg.concurrency > 0:
            print(f"[scotd bench serve] load test: {cfg.concurrency} clients, {cfg.load_requests} requests",
                  file=sys.stderr, flush=True)
            row["load"] = load(engine, "bench", cfg)
        rows.append(row)
        engine.close()
    return {"config": to_dict(cfg), "machine": {"cpu": cpu_kind(),
                                                "python": platform.python_version()},
            "questions": questions, "results": rows}


def _fmt(value: Optional[float], spec: str) -> str:
    return "-" if value is None else format(value, spec)


def markdown(result: dict) -> str:
    lines = ["| model | backend | load s | TTFT s (engine) | decode tok/s (engine) | TTFT s (HTTP API) "
             "| decode tok/s (HTTP API) | tokens/reply |", "|---|---|---|---|---|---|---|---|"]
    for row in result["results"]:
        e, a = row["engine"], row["api"]
        lines.append(f"| {row['model']} | {row['backend']} | {row['load_s']:.1f} | {_fmt(e['ttft_s'], '.3f')} | "
                     f"{_fmt(e['decode_tok_s'], '.1f')} | {_fmt(a['ttft_s'], '.3f')} | {_fmt(a['decode_tok_s'], '.1f')} "
                     f"| {_fmt(e['tokens'], '.0f')} |")
    return ("Medians over the questions in bench_serve.json; greedy, up to "
            f"{result['config']['max_new_tokens']} new tokens; engine and API timed in the same run.\n\n"
            + "\n".join(lines) + "\n")


def load_markdown(result: dict) -> str:
    config = result["config"]
    lines = ["### Serving under load (`scotd bench serve --concurrency N`)", "",
             "Concurrent clients against the OpenAI-compatible API on 127.0.0.1, with "
             + ("a fixed mix of normal requests (streaming, plain, n=3) and hostile ones (max_tokens 1e9, an unknown "
                "role, temperature -1, a 100k-character message)" if config.get("load_mix", "mixed") == "mixed" else
                "normal requests only (streaming, plain, n=3)") + ", once per server `batch_rows` (1: one request at a time; N: requests that "
             "arrive together decode as one batch of up to N rows). Every request must end complete, with a 4xx, or "
             "with a 429; `unexpected` counts the rest (5xx, dropped, hung). "
             f"{result['machine']['cpu']}. Command: `scotd bench serve --concurrency {config['concurrency']} "
             f"--load_requests {config['load_requests']} --load_mix {config.get('load_mix', 'mixed')} "
             f"--batch_rows {' '.join(map(str, config['batch_rows']))}`.",
             "", "| model | batch rows | clients | requests | complete | 4xx | 429 | unexpected | TTFT p50 s "
             "| TTFT p99 s | tokens/s | vs first | RSS before → after MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in result["results"]:
        runs = row.get("load") or []
        first = runs[0]["tokens_per_s"] if runs else None
        for load in runs:
            counts = load["outcomes"]
            refused = sum(n for status, n in counts.items() if status.startswith("4") and status != "429")
            ratio = f"**{load['tokens_per_s'] / first:.2f}x**" if first and load["tokens_per_s"] else "-"
            lines.append(f"| {row['model']} | {load['batch_rows']} | {load['clients']} | {load['requests']} | "
                         f"{counts.get('complete', 0)} | {refused} | {counts.get('429', 0)} | {load['unexpected']} | "
                         f"{_fmt(load['ttft_p50_s'], '.2f')} | {_fmt(load['ttft_p99_s'], '.2f')} | "
                         f"{_fmt(load['tokens_per_s'], '.1f')} | {ratio} | "
                         f"{_fmt(load['rss_before_mb'], '.0f')} → {_fmt(load['rss_after_mb'], '.0f')} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    cfg = parse_args(ServeBenchConfig, argv, prog="scotd bench serve",
                     description="Time to first token and decode tok/s as served (engine and HTTP API); "
                                 "--concurrency N adds a load test.")
    result = run(cfg)
    if cfg.concurrency > 0:
        from bench.report import write_results

        write_results("serve-load", result, cfg.json_out, cfg.markdown, load_markdown(result))
        print(load_markdown(result))
    out = Path(cfg.out) if Path(cfg.out).is_absolute() else project_root() / cfg.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0

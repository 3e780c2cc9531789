"""A bounded load test on 127.0.0.1: concurrent clients, some hostile, none lost, none hung."""

from __future__ import annotations

import json

import pytest

from serve.apps.api import create_api
from bench.serving import main as bench_serve
from bench.serve_load import MIX, run_load
from serve.engines.interface import load_engine
from serve_helpers import UvicornThread
from tiny_student import build_tiny_student


@pytest.fixture(scope="module")
def engine():
    return load_engine(build_tiny_student())


def test_every_request_ends_complete_refused_or_told_to_retry(engine):
    with UvicornThread(create_api(engine, "tiny", max_queue=3, max_input_chars=2000)) as server:
        result = run_load(f"{server.url}/v1", "tiny", clients=12, requests=3 * len(MIX), max_tokens=16, deadline_s=120)
    counts = result.counts()
    assert len(result.outcomes) == 3 * len(MIX)
    assert result.unexpected() == [] and "hung" not in counts and "error" not in counts
    assert counts.get("400", 0) >= 3 * 4 - counts.get("429", 0)  # the four hostile kinds, unless told to retry
    assert counts.get("429", 0) > 0  # 12 clients against one slot and a queue of 3
    assert counts.get("complete", 0) > 0
    summary = result.summary()
    assert summary["ttft_p50_s"] is not None and summary["ttft_p99_s"] >= summary["ttft_p50_s"]


def test_the_normal_mix_sends_only_requests_that_decode(engine):
    with UvicornThread(create_api(engine, "tiny", max_queue=16)) as server:
        result = run_load(f"{server.url}/v1", "tiny", clients=4, requests=10, max_tokens=8, deadline_s=120,
                          mix="normal")
    assert [o.kind for o in result.outcomes].count("n3") == 2
    assert result.counts() == {"complete": 10} and result.summary()["tokens_per_s"] > 0


def test_bench_serve_concurrency_writes_json_and_its_markdown_section(tmp_path):
    markdown = tmp_path / "BENCHMARKS.md"
    markdown.write_text("# Benchmarks\n\n## Other\nkeep me\n")
    assert bench_serve(["--models", str(build_tiny_student()), "--questions", "1", "--max_new_tokens", "8", "--concurrency", "4",
                        "--load_requests", str(len(MIX)), "--load_max_new_tokens", "8",
                        "--out", str(tmp_path / "serve"), "--load_json", str(tmp_path / "load.json"),
                        "--markdown", str(markdown), "--batch_rows", "1", "4"]) == 0
    runs = json.loads((tmp_path / "load.json").read_text())["results"][0]["load"]
    assert [run["batch_rows"] for run in runs] == [1, 4]
    for load in runs:
        assert load["requests"] == len(MIX) and load["unexpected"] == 0 and load["rss_after_mb"] > 0
    text = markdown.read_text()
    assert "keep me" in text and "Serving under load" in text and f"| 1 | 4 | {len(MIX)} |" in text
    assert f"| 4 | 4 | {len(MIX)} |" in text


def test_every_request_ends_properly_when_requests_share_batches(llama_fp32_export):
    from serve.engines.onnx_engine import OnnxEngine
    from test_api_conventions import scrape

    with UvicornThread(create_api(OnnxEngine(llama_fp32_export), "tiny", max_queue=4, batch_rows=8)) as server:
        result = run_load(f"{server.url}/v1", "tiny", clients=12, requests=3 * len(MIX), max_tokens=16, deadline_s=120)
        metrics = scrape(server.url)
    counts = result.counts()
    assert result.unexpected() == [] and "hung" not in counts and "error" not in counts
    assert counts.get("complete", 0) > 0 and metrics["scotd_api_batches_total"] > 0

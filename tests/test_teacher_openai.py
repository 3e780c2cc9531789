"""The openai teacher against a real HTTP server on 127.0.0.1 (tests/teacher_server.py)."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from distill.sample import SampleConfig, run
from serve.core.config import build
from serve.core.errors import UserError
from teacher_server import TeacherServer


def write_questions(path: Path, count: int) -> Path:
    rows = [{"id": f"q{i}", "question": f"Which colour is number {i}?", "choices": ["red", "green", "blue"],
             "answer": "abc"[i % 3]} for i in range(count)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def config(tmp_path: Path, server: TeacherServer, n: int = 4, count: int = 8, **teacher) -> SampleConfig:
    values = {"data": {"source": str(write_questions(tmp_path / "q.jsonl", count)), "split": "all"},
              "teacher": {"backend": "openai", "model": "teacher-x", "base_url": server.base_url, "timeout_s": 5,
                          "backoff_s": 0.02, "max_backoff_s": 0.2, "concurrency": 4, **teacher},
              "sampling": {"n": n, "max_new_tokens": 64}, "out": str(tmp_path / "cots.jsonl")}
    return build(SampleConfig, values)


def keys_of(path: Path) -> Counter:
    return Counter((r["example_id"], r["sample_index"]) for r in map(json.loads, path.read_text().splitlines()))


def test_chat_sampling_completes_with_n_per_request(tmp_path, monkeypatch):
    monkeypatch.setenv("SCOTD_TEST_KEY", "sk-secret-123")
    with TeacherServer(api_key="sk-secret-123") as server:
        summary = run(config(tmp_path, server, api_key_env="SCOTD_TEST_KEY"))
    keys = keys_of(tmp_path / "cots.jsonl")
    assert set(keys) == {(f"q{i}", j) for i in range(8) for j in range(4)} and set(keys.values()) == {1}
    assert all(entry["n"] == 4 and entry["path"] == "/v1/chat/completions" for entry in server.log)
    assert len(server.log) == 8  # one request per question: the server honours n
    assert summary["parse_rate"] == 1.0 and summary["samples"] == 32
    assert summary["usage"]["completion_tokens"] == summary["tokens"] > 0
    assert 0.0 <= summary["teacher_accuracy"] <= summary["pass@4"] <= 1.0
    saved = (tmp_path / "cots.config.yaml").read_text() + (tmp_path / "cots.summary.json").read_text()
    assert "sk-secret-123" not in saved and "SCOTD_TEST_KEY" in saved


def test_completions_api_with_logprobs_and_rationalization(tmp_path):
    with TeacherServer() as server:
        cfg = config(tmp_path, server, api="completions", logprobs=True)
        cfg.prompt.rationalize = True
        summary = run(cfg)
    records = [json.loads(line) for line in (tmp_path / "cots.jsonl").read_text().splitlines()]
    assert all(entry["path"] == "/v1/completions" for entry in server.log)
    assert all(r["logprob"] is not None and r["logprob"] <= 0 for r in records)
    assert all(r["tokens"] == len(r["rationale"].split()) for r in records)
    # the server answers the hinted gold answer, so rationalization makes every sample correct
    assert summary["teacher_accuracy"] == 1.0


def test_server_that_ignores_n_gets_one_request_per_sample(tmp_path):
    with TeacherServer(honour_n=False) as server:
        run(config(tmp_path, server, n=3, count=4))
    keys = keys_of(tmp_path / "cots.jsonl")
    assert len(keys) == 12 and set(keys.values()) == {1}
    # the first answer with fewer choices than asked switches to n=1 requests
    assert sum(1 for e in server.log if e["n"] == 1) >= 8 and len(server.log) <= 12 + 4


def test_misbehaving_server_still_yields_every_key_exactly_once(tmp_path):
    faults = ["ok", "429", "500", "ok", "stall", "reset", "ok", "429"]
    with TeacherServer(faults=faults, honour_n=True, stall_s=1.5, retry_after="0.05") as server:
        # the faults cycle through the server's requests in arrival order, so one request can draw five
        # faulty slots in a row now and then (3 of 8 slots answer): a retry budget that chance cannot
        # exhaust keeps this test about keys, not about luck
        summary = run(config(tmp_path, server, n=5, count=12, timeout_s=0.4, n_per_request=2, max_retries=40))
    keys = keys_of(tmp_path / "cots.jsonl")
    assert set(keys) == {(f"q{i}", j) for i in range(12) for j in range(5)}
    assert set(keys.values()) == {1}
    assert all(server.count(f) > 0 for f in ("429", "500", "stall", "reset"))
    errors = summary["usage"]["errors"]
    assert errors["http 429"] == server.count("429") and errors["http 500"] == server.count("500")
    assert summary["usage"]["retries"] >= server.count("429") + server.count("500") + server.count("stall")
    assert summary["instances_complete"] == 12


def test_retry_after_is_honoured(tmp_path):
    with TeacherServer(faults=["429", "ok"], retry_after="0.6") as server:
        started = time.perf_counter()
        run(config(tmp_path, server, n=1, count=1))
        elapsed = time.perf_counter() - started
    assert server.count("429") == 1 and elapsed >= 0.6


def test_wrong_key_fails_fast_without_leaking_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SCOTD_TEST_KEY", "sk-wrong-456")
    with TeacherServer(api_key="sk-right") as server:
        with pytest.raises(UserError) as info:
            run(config(tmp_path, server, api_key_env="SCOTD_TEST_KEY"))
    assert "401" in str(info.value) and "$SCOTD_TEST_KEY" in str(info.value)
    assert "sk-wrong-456" not in str(info.value)


def test_retries_exhausted_is_an_actionable_error(tmp_path):
    with TeacherServer(faults=["500"]) as server:
        with pytest.raises(UserError, match="failed 3 times.*max_retries"):
            run(config(tmp_path, server, n=1, count=1, max_retries=2))


def test_prompt_style_text_sends_the_few_shot_text_as_one_chat_turn(tmp_path):
    with TeacherServer() as server:
        run(config(tmp_path, server, n=1, count=2, prompt_style="text"))
        (tmp_path / "turns").mkdir()
        run(config(tmp_path / "turns", server, n=1, count=2))
    assert [e["messages"] for e in server.log] == [1, 1, 10, 10]  # system + 4 demonstrations x 2 + question


def test_a_teacher_url_where_nothing_listens_fails_in_seconds(tmp_path):
    from serve_helpers import free_port

    values = {"data": {"source": str(write_questions(tmp_path / "q.jsonl", 2)), "split": "all"},
              "teacher": {"backend": "openai", "model": "m", "base_url": f"http://127.0.0.1:{free_port()}/v1",
                          "max_retries": 8, "backoff_s": 2.0},
              "sampling": {"n": 2}, "out": str(tmp_path / "cots.jsonl")}
    started = time.monotonic()
    with pytest.raises(UserError, match=r"no server answers at http://127\.0\.0\.1:\d+/v1 .*teacher.base_url"):
        run(build(SampleConfig, values))
    # the retry schedule above would take minutes; a refused connection before any answer ends it
    assert time.monotonic() - started < 10

"""Bounded work per API request against a real uvicorn server: token caps, roles, ranges,
the wall-clock limit, a dropped stream freeing its slot, and 429 when the wait queue is full.

The engine is the tiny student slowed to a fixed pace per text piece, so that "a generation is
still running" is a fact of the test rather than a race with a fast CPU."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from serve.apps.api import create_api
from serve.core.student_format import format_question
from serve.engines.interface import Engine, SamplingParams, load_engine
from serve_helpers import UvicornThread
from test_api_conventions import scrape
from tiny_student import QUESTIONS, build_tiny_student

MODEL_ID = "tiny-student"
PACE_S = 0.25


class Paced:
    """The real engine, yielding each piece after ``PACE_S``; counts the pieces it produced."""

    def __init__(self, engine):
        self.engine, self.pieces = engine, 0

    def __getattr__(self, name):
        return getattr(self.engine, name)

    complete = Engine.complete  # n replies from this paced stream_prompt, not the wrapped engine's

    def stream_prompt(self, prompt, sampling):
        for piece in self.engine.stream_prompt(prompt, sampling):
            time.sleep(PACE_S)
            self.pieces += 1
            yield piece


@pytest.fixture(scope="module")
def engine():
    return load_engine(build_tiny_student())


def body(**extra) -> dict:
    item = QUESTIONS[0]
    return {"model": MODEL_ID, "messages": [{"role": "user", "content": format_question(item["question"], item["choices"])}],
            "temperature": 0, **extra}


def natural_pieces(engine) -> int:
    """How many pieces the greedy reply to ``body()`` has when nothing cuts it."""
    prompt = engine.apply_chat_template(body()["messages"])
    return sum(1 for _ in engine.stream_prompt(prompt, SamplingParams(max_new_tokens=200)))


def test_hostile_requests_get_a_400_naming_the_problem(engine):
    with UvicornThread(create_api(engine, MODEL_ID, max_tokens_cap=100)) as server:
        url = f"{server.url}/v1/chat/completions"
        huge = httpx.post(url, json=body(max_tokens=1_000_000_000), timeout=30)
        assert huge.status_code == 400
        error = huge.json()["error"]
        assert error["param"] == "max_tokens" and "at most 100" in error["message"]
        assert "--max_tokens_cap" in error["message"] and "context window" in error["message"]
        wizard = httpx.post(url, json={**body(), "messages": [{"role": "wizard", "content": "hi"}]}, timeout=30)
        assert wizard.status_code == 400 and "system, user, assistant" in wizard.json()["error"]["message"]
        for field, value in (("temperature", -1), ("top_p", 0), ("n", 0), ("max_tokens", 0)):
            reply = httpx.post(url, json=body(**{field: value}), timeout=30)
            assert reply.status_code == 400, field
            assert reply.json()["error"]["param"] == field and field in reply.json()["error"]["message"]
        assert httpx.post(url, json=body(max_tokens=5), timeout=60).status_code == 200


def test_the_wall_clock_limit_ends_a_reply_with_length(engine):
    assert natural_pieces(engine) >= 8
    paced = Paced(engine)
    with UvicornThread(create_api(paced, MODEL_ID, request_timeout_s=3 * PACE_S)) as server:
        reply = httpx.post(f"{server.url}/v1/chat/completions", json=body(max_tokens=200), timeout=60).json()
    assert reply["choices"][0]["finish_reason"] == "length"
    assert paced.pieces <= 4


def first_piece_seconds(url: str, payload: dict) -> float:
    started = time.monotonic()
    with httpx.stream("POST", url, json={**payload, "stream": True}, timeout=60) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and json.loads(line[6:]).get("choices", [{}])[0].get("delta", {}).get("content"):
                return time.monotonic() - started
    raise AssertionError("the stream ended without a piece")


def test_a_dropped_stream_stops_and_frees_its_slot(engine):
    natural = natural_pieces(engine)
    assert natural >= 8  # the dropped reply would hold the only slot for natural * PACE_S seconds
    paced = Paced(engine)
    with UvicornThread(create_api(paced, MODEL_ID, concurrency=1)) as server:
        url = f"{server.url}/v1/chat/completions"
        first_piece_seconds(url, body(max_tokens=200))  # read one piece, then close the connection
        dropped_at = paced.pieces
        waited = first_piece_seconds(url, body(max_tokens=3))
    assert dropped_at <= 2
    assert waited < (natural - dropped_at) * PACE_S / 2
    assert paced.pieces <= dropped_at + 2 + 3  # at most a piece or two of the dropped reply, then the next one's


def test_a_full_wait_queue_answers_429_with_retry_after(engine):
    paced = Paced(engine)
    with UvicornThread(create_api(paced, MODEL_ID, concurrency=1, max_queue=1)) as server:
        url = f"{server.url}/v1/chat/completions"
        results: dict[str, int] = {}

        def call(name: str, max_tokens: int) -> None:
            results[name] = httpx.post(url, json=body(max_tokens=max_tokens), timeout=120).status_code

        running = threading.Thread(target=call, args=("running", 12))
        running.start()
        while paced.pieces == 0:
            time.sleep(0.02)
        waiting = threading.Thread(target=call, args=("waiting", 2))
        waiting.start()
        time.sleep(0.3)  # let it reach the queue
        busy = httpx.post(url, json=body(max_tokens=2), timeout=30)
        during = scrape(server.url)
        running.join(), waiting.join()
        after = scrape(server.url)
    assert during["scotd_api_queue_depth"] == 1 and during["scotd_api_requests_running"] == 1
    assert after["scotd_api_queue_depth"] == 0 and after["scotd_api_requests_running"] == 0
    assert [after[f'scotd_api_requests_total{{outcome="{o}"}}'] for o in ("ok", "429")] == [2, 1]
    assert busy.status_code == 429 and int(busy.headers["Retry-After"]) >= 1
    assert busy.json()["error"]["type"] == "rate_limit_error" and "--max_queue" in busy.json()["error"]["message"]
    assert results == {"running": 200, "waiting": 200}

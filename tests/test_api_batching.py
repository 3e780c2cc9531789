"""Requests that arrive together decode as one batch (``create_api(..., batch_rows=N)``), against a real
uvicorn server over the tiny fp32 ONNX export: replies as each request gets alone, bounds per request."""

from __future__ import annotations

import dataclasses
import json
import threading
import time

import httpx
import numpy as np
import pytest

from serve.apps.api import create_api
from serve.apps.infer import answer_all
from serve.engines.interface import SamplingParams
from serve.engines.onnx_engine import OnnxEngine
from serve_helpers import UvicornThread
from test_api_conventions import scrape

MODEL_ID = "tiny-onnx"
WORDS = ["apple", "pear", "plum", "fig", "kiwi"]


def question(i: int) -> list[dict]:
    return [{"role": "user", "content": f"{i}: " + " ".join(WORDS[(i * j) % 5] for j in range(i % 4 + 2))}]


def post(url: str, i: int, **extra) -> dict:
    reply = httpx.post(f"{url}/v1/chat/completions", timeout=120,
                       json={"model": MODEL_ID, "messages": question(i), "temperature": 0, **extra})
    assert reply.status_code == 200, reply.text
    return reply.json()


def streamed(url: str, i: int, **extra) -> tuple[dict[int, str], dict[int, str]]:
    texts: dict[int, str] = {}
    finish: dict[int, str] = {}
    with httpx.stream("POST", f"{url}/v1/chat/completions", timeout=120, json={
            "model": MODEL_ID, "messages": question(i), "temperature": 0, "stream": True, **extra}) as reply:
        for line in reply.iter_lines():
            if line.startswith("data: {"):
                choice = json.loads(line[6:])["choices"][0]
                texts[choice["index"]] = texts.get(choice["index"], "") + (choice["delta"].get("content") or "")
                if choice["finish_reason"]:
                    finish[choice["index"]] = choice["finish_reason"]
    return texts, finish


@pytest.fixture(scope="module")
def engine(llama_fp32_export):
    return OnnxEngine(llama_fp32_export)


def alone(engine: OnnxEngine, i: int, max_tokens: int) -> str:
    prompt = engine.apply_chat_template(question(i))
    return "".join(engine.stream_prompt(prompt, SamplingParams(max_new_tokens=max_tokens)))


def long_then_short(url: str, long_extra: dict, pause: float, meanwhile=lambda: None) -> tuple[dict, dict]:
    """A long request (question 1), then after ``pause`` s and ``meanwhile()`` a short one (question 3, 6
    tokens): when each finished, and the replies."""
    done: dict[str, float] = {}
    replies: dict[str, dict] = {}

    def call(name: str, i: int, **extra) -> None:
        replies[name] = post(url, i, **extra)
        done[name] = time.monotonic()

    long = threading.Thread(target=call, args=("long", 1), kwargs=long_extra)
    long.start()
    time.sleep(pause)
    meanwhile()
    short = threading.Thread(target=call, args=("short", 3), kwargs={"max_tokens": 6})
    short.start()
    for thread in (long, short):
        thread.join()
    return done, replies


def test_waiting_requests_decode_as_one_batch_and_each_gets_its_own_reply(engine):
    with UvicornThread(create_api(engine, MODEL_ID, batch_rows=8)) as server:
        results: dict[str, object] = {}
        # a long request keeps the batcher busy, so the next six wait and are taken together
        first = threading.Thread(target=lambda: results.update(first=post(server.url, 0, max_tokens=400)))
        first.start()
        time.sleep(0.2)
        calls = {f"q{i}": (lambda i=i: results.update({f"q{i}": post(server.url, i, max_tokens=10 + 4 * i)}))
                 for i in range(1, 5)}
        calls["stream"] = lambda: results.update(stream=streamed(server.url, 5, max_tokens=24))
        calls["stopped"] = lambda: results.update(stopped=post(server.url, 6, max_tokens=30, stop=[alone(
            engine, 6, 30)[8:12]]))
        threads = [threading.Thread(target=call) for call in calls.values()]
        for thread in threads:
            thread.start()
        for thread in [first, *threads]:
            thread.join()
        metrics = scrape(server.url)
    assert metrics["scotd_api_batches_total"] >= 1 and metrics["scotd_api_batch_rows_total"] >= 4
    for i in range(1, 5):
        choice = results[f"q{i}"]["choices"][0]
        assert choice["message"]["content"] == alone(engine, i, 10 + 4 * i), i
        assert choice["finish_reason"] == "length"
        assert results[f"q{i}"]["usage"]["completion_tokens"] == engine.count_tokens(choice["message"]["content"])
    texts, finish = results["stream"]
    assert texts[0] == alone(engine, 5, 24) and finish[0] == "length"
    stopped = results["stopped"]["choices"][0]
    assert stopped["message"]["content"] == alone(engine, 6, 30)[:8] and stopped["finish_reason"] == "stop"


def test_n_choices_are_rows_of_one_batch_and_the_deadline_cuts_a_row(engine):
    with UvicornThread(create_api(engine, MODEL_ID, batch_rows=8, request_timeout_s=60)) as server:
        reply = post(server.url, 2, n=3, temperature=0.9, seed=7, max_tokens=12)
        metrics = scrape(server.url)
    assert len(reply["choices"]) == 3 and len({c["message"]["content"] for c in reply["choices"]}) > 1
    assert metrics["scotd_api_batch_rows_total"] == 3
    with UvicornThread(create_api(engine, MODEL_ID, batch_rows=8, request_timeout_s=0.0)) as server:
        cut = post(server.url, 3, n=2, temperature=0.9, max_tokens=200)
    assert all(c["finish_reason"] == "length" for c in cut["choices"])
    assert cut["usage"]["completion_tokens"] < 2 * 200


def test_batch_rows_1_keeps_one_request_at_a_time(engine):
    with UvicornThread(create_api(engine, MODEL_ID, batch_rows=1)) as server:
        threads = [threading.Thread(target=post, args=(server.url, i), kwargs={"max_tokens": 8}) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        metrics = scrape(server.url)
    assert metrics.get("scotd_api_batches_total", 0) == 0


def test_a_request_joins_a_running_batch_and_leaves_before_it(engine, monkeypatch):
    """Continuous batching: a short request that arrives while a long one (two sampled choices, so it
    never takes the single stream) decodes is answered first, and as it is answered alone."""
    from serve.engines.row_batch import RowBatch

    real_step = RowBatch.step  # the tiny model may finish 470 tokens in 0.1 s: paced, the short one comes mid-reply
    monkeypatch.setattr(RowBatch, "step", lambda self, tokens: time.sleep(0.002) or real_step(self, tokens))
    with UvicornThread(create_api(engine, MODEL_ID, batch_rows=4)) as server:
        started = time.monotonic()
        done, replies = long_then_short(server.url, {"n": 2, "temperature": 0.9, "max_tokens": 470}, 0.05)
        metrics = scrape(server.url)
    print(f"long reply done after {done['long'] - started:.2f} s, the short one after {done['short'] - started:.2f} s")
    assert done["short"] < done["long"]
    assert replies["short"]["choices"][0]["message"]["content"] == alone(engine, 3, 6)
    assert metrics["scotd_api_batch_rows_total"] == 3 and metrics["scotd_api_batches_total"] == 1


def test_a_lone_greedy_reply_moves_into_the_batch_when_company_arrives(engine, monkeypatch):
    """The first request finds the server idle and decodes alone; a second one arriving mid-reply does not
    wait for it: the first moves into a row (its reply so far prefilled), the second joins beside it."""
    whole = alone(engine, 1, 470)
    assert len(engine.encode(whole)) > 200
    single_stream = engine.token_ids

    def paced(*args, **kwargs):  # the tiny model answers in 0.15 s: paced, the second request comes mid-reply
        for token in single_stream(*args, **kwargs):
            time.sleep(0.004)
            yield token

    monkeypatch.setattr(engine, "token_ids", paced)
    with UvicornThread(create_api(engine, MODEL_ID, batch_rows=4)) as server:
        before: dict = {}
        done, replies = long_then_short(server.url, {"max_tokens": 470}, 0.3, lambda: before.update(scrape(server.url)))
        metrics = scrape(server.url)
    assert before["scotd_api_batch_rows_total"] == 0  # the first request was decoding alone
    assert done["short"] < done["long"]
    assert replies["long"]["choices"][0]["message"]["content"] == whole
    assert replies["short"]["choices"][0]["message"]["content"] == alone(engine, 3, 6)
    assert metrics["scotd_api_batch_rows_total"] == 2 and metrics["scotd_api_batches_total"] == 1


def test_a_request_longer_than_a_row_waits_for_the_batch_to_drain_and_runs_alone(engine, monkeypatch):
    import serve.apps.batching as batching

    monkeypatch.setattr(batching, "ROW_CAPACITY", 64)  # rows hold 64 tokens: a 100-token reply does not fit
    with UvicornThread(create_api(engine, MODEL_ID, batch_rows=4)) as server:
        results: dict[str, dict] = {}
        threads = [threading.Thread(target=lambda: results.update(long=post(server.url, 2, max_tokens=100))),
                   threading.Thread(target=lambda: results.update(rows=post(server.url, 4, n=2, temperature=0.9,
                                                                            max_tokens=8)))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results["long"]["choices"][0]["message"]["content"] == alone(engine, 2, 100)
    assert len(results["rows"]["choices"]) == 2


def test_static_batches_where_the_session_loop_cannot_run(engine, monkeypatch):
    """An engine without a RowBatch (a sliding-window export) still batches: the waiting requests whose
    sampling agrees, as one genai batch."""
    monkeypatch.setattr(type(engine), "row_batch", lambda self, rows, capacity=4096: None)
    with UvicornThread(create_api(engine, MODEL_ID, batch_rows=8)) as server:
        results: dict[str, dict] = {}
        first = threading.Thread(target=lambda: results.update(first=post(server.url, 0, max_tokens=400)))
        first.start()
        time.sleep(0.05)
        threads = [threading.Thread(target=lambda i=i: results.update({f"q{i}": post(server.url, i, max_tokens=12)}))
                   for i in range(1, 4)]
        for thread in threads:
            thread.start()
        for thread in [first, *threads]:
            thread.join()
        metrics = scrape(server.url)
    for i in range(1, 4):
        assert results[f"q{i}"]["choices"][0]["message"]["content"] == alone(engine, i, 12)
    assert metrics["scotd_api_batches_total"] >= 1 and metrics["scotd_api_batch_rows_total"] >= 2


def test_eval_and_infer_questions_refill_finished_rows_and_come_back_in_order(engine, monkeypatch):
    """``answer_all`` (the loop of scotd eval and scotd infer): all questions queue into the continuous
    batch, a row whose reply ended takes the next question at once, and the groups come back in the
    questions' order with the replies each question gets alone."""
    from serve.apps import batching
    from serve.engines.row_batch import RowBatch

    budgets = [40, 4, 4, 4, 4, 4, 4, 4]  # one long reply beside seven short ones
    items = list(range(len(budgets)))
    render = lambda i: engine.apply_chat_template(question(i))  # noqa: E731
    steps = []
    real_step = RowBatch.step
    monkeypatch.setattr(RowBatch, "step", lambda self, tokens: steps.append(len(tokens)) or real_step(self, tokens))
    greedy = SamplingParams(max_new_tokens=max(budgets))
    groups = list(answer_all(engine, items, render, greedy, 2, "test"))
    assert [group for group, _ in groups] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    texts = [t[0] for _, completions in groups for t in completions]
    assert texts == [alone(engine, i, max(budgets)) for i in items]
    steps.clear()
    shaped = [dataclasses.replace(greedy, max_new_tokens=b) for b in budgets]
    cut = {i: alone(engine, i, budgets[i]) for i in items}
    tickets = [batching.Ticket(render(i), shaped[i], float("inf"), len(engine.encode(render(i)))) for i in items]
    batcher = batching.Batcher(engine, 2, capacity=256)
    batcher.submit_all(tickets)
    assert [batching.collect(batcher, t)[0][0] for t in tickets] == [cut[i] for i in items]
    # fixed batches of two would step 40 + 3 x 4 times; refilling, the seven short replies share the long one's
    assert len(steps) < 40 + 3 * 4 and max(steps) == 2


def test_answer_all_falls_back_to_fixed_batches_without_a_row_batch(tiny_llama_dir):
    from serve.engines.interface import load_engine

    engine = load_engine(tiny_llama_dir, backend="torch")
    groups = list(answer_all(engine, ["a", "b", "c"], lambda q: f"Q: {q}\nA:", SamplingParams(max_new_tokens=3), 2, "t"))
    assert [group for group, _ in groups] == [["a", "b"], ["c"]] and all(len(c) == 1 for _, cs in groups for c in cs)


def test_a_prompt_sharing_a_prefix_with_the_last_one_reuses_its_cache(engine):
    """A chat template's system turn is the same in every prompt: the second join copies its cache from the
    first prompt's and feeds only the rest, with the logits a full prefill gives."""
    from serve.engines.row_batch import MIN_PREFIX

    lead = "Alice, Bob and Claire are playing a game, and each holds a ball. "
    first, second = (engine.encode(engine.apply_chat_template([{"role": "user", "content": lead + tail}]))
                     for tail in ("Who has the red one?", "Which ball does Bob hold?"))
    shared = next(i for i, (a, b) in enumerate(zip(first, second)) if a != b)
    assert shared >= MIN_PREFIX
    fresh = engine.row_batch(2, capacity=256).join(0, second)
    batch = engine.row_batch(2, capacity=256)
    fed = []
    real_run = batch._run
    batch._run = lambda binding, ids, mask: fed.append(ids.shape[1]) or real_run(binding, ids, mask)
    batch.join(0, first)
    reused = batch.join(1, second)
    assert fed == [len(first), len(second) - shared]
    np.testing.assert_allclose(reused, fresh, atol=1e-4)
    token = int(np.argmax(reused))
    after = batch.step({0: int(np.argmax(batch.join(0, first))), 1: token})[1]
    alone_batch = engine.row_batch(2, capacity=256)
    alone_batch.join(1, second)
    np.testing.assert_allclose(after, alone_batch.step({1: token})[1], atol=1e-4)  # the copied cache decodes on


def test_more_choices_than_rows_decode_as_a_static_batch_instead_of_waiting_forever(engine):
    with UvicornThread(create_api(engine, MODEL_ID, batch_rows=4)) as server:
        reply = post(server.url, 2, n=6, temperature=0.9, max_tokens=8, seed=1)
    assert sorted(c["index"] for c in reply["choices"]) == list(range(6))


def test_answer_all_gives_n_choices_beyond_its_rows_and_its_batcher_thread_ends(engine, monkeypatch):
    import threading as threads

    from serve.apps import batching

    made = []
    real_init = batching.Batcher.__init__
    monkeypatch.setattr(batching.Batcher, "__init__", lambda self, *a, **k: made.append(self) or real_init(self, *a, **k))
    render = lambda i: engine.apply_chat_template(question(i))  # noqa: E731
    hot = SamplingParams(n=3, temperature=0.9, max_new_tokens=6, seed=2)
    groups = list(answer_all(engine, [0, 1, 2], render, hot, 2, "test"))
    assert [len(completions) for _, cs in groups for completions in cs] == [3, 3, 3]
    assert len(made) == 1 and made[0].max_rows == 3  # a question's three choices share one batch
    made[0].thread.join(timeout=10)
    assert not made[0].thread.is_alive()  # closed: its KV buffers go with it
    assert not [t for t in threads.enumerate() if t is made[0].thread]

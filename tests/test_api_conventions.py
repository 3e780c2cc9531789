"""What client tooling expects of the API, against a real uvicorn server: /health (503 while the model
loads), /metrics in Prometheus text format, the API key, and 400s that name what is wrong
(logprobs, a null message content, a body that is not JSON)."""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import subprocess
import sys
import threading
import time

import httpx
import openai
import pytest

from serve.apps.api import create_api
from serve.apps.api_conventions import api_key_from
from serve.core.student_format import format_question
from serve.engines.interface import Engine, load_engine
from serve_helpers import UvicornThread, free_port
from tiny_student import QUESTIONS, build_tiny_student

MODEL_ID = "tiny-student"
KEY = "s3cret-key"


@pytest.fixture(scope="module")
def engine():
    return load_engine(build_tiny_student())


@pytest.fixture(scope="module")
def server(engine):
    with UvicornThread(create_api(engine, MODEL_ID)) as running:
        yield running


def body(**extra) -> dict:
    item = QUESTIONS[0]
    question = format_question(item["question"], item["choices"])
    return {"model": MODEL_ID, "messages": [{"role": "user", "content": question}], "temperature": 0, "max_tokens": 12,
            **extra}


LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"'
SAMPLE = re.compile(rf'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{{{LABEL}(?:,{LABEL})*\}})? (\S+)')


def scrape(url: str, **headers) -> dict[str, float]:
    """``/metrics`` parsed as the Prometheus text format 0.0.4 demands: every sample line well formed and
    of a family declared by ``# TYPE``; a histogram's buckets cumulative, ending at +Inf == _count."""
    reply = httpx.get(f"{url}/metrics", headers=headers, timeout=30)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert reply.text.endswith("\n")
    types, samples = {}, {}
    for line in reply.text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram") and name not in types
            types[name] = kind
        elif not line.startswith("# HELP "):
            match = SAMPLE.fullmatch(line)
            assert match, f"not a sample line: {line!r}"
            name = match.group(1)
            family = name if name in types else re.sub(r"_(bucket|sum|count)$", "", name)
            assert family in types, f"{name} has no # TYPE"
            assert types[family] != "counter" or name.endswith("_total")
            samples[name + (match.group(2) or "")] = float(match.group(3))
    for family in (name for name, kind in types.items() if kind == "histogram"):
        buckets = [(float(key.split('le="')[1][:-2]), value) for key, value in samples.items()
                   if key.startswith(f"{family}_bucket{{")]
        assert buckets and buckets[-1][0] == math.inf and buckets == sorted(buckets)
        assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])) and buckets[-1][1] == samples[f"{family}_count"]
    return samples


def outcomes(samples: dict[str, float]) -> dict[str, float]:
    return {o: samples[f'scotd_api_requests_total{{outcome="{o}"}}'] for o in ("ok", "4xx", "429", "error")}


def test_health_is_503_while_loading_and_requests_wait_for_the_model(engine):
    app = create_api(None, None)
    with UvicornThread(app) as server:
        loading = httpx.get(f"{server.url}/health", timeout=10)
        assert loading.status_code == 503 and loading.json() == {"status": "loading"}
        assert scrape(server.url)["scotd_api_model_loaded"] == 0
        answer: dict = {}
        early = threading.Thread(target=lambda: answer.update(
            reply=httpx.post(f"{server.url}/v1/chat/completions", json=body(), timeout=60)))
        early.start()
        time.sleep(0.5)
        assert early.is_alive(), "a request sent while loading should wait for the model"
        app.state.serving.ready(engine, MODEL_ID)
        early.join(timeout=60)
        ready = httpx.get(f"{server.url}/health", timeout=10)
        assert ready.status_code == 200 and ready.json() == {"status": "ok"}
        assert scrape(server.url)["scotd_api_model_loaded"] == 1
    assert answer["reply"].status_code == 200 and answer["reply"].json()["model"] == MODEL_ID


def test_a_failed_load_answers_503_naming_the_failure():
    app = create_api(None, None)
    app.state.serving.failed("models/nowhere holds no model")
    with UvicornThread(app) as server:
        health = httpx.get(f"{server.url}/health", timeout=10)
        models = httpx.get(f"{server.url}/v1/models", timeout=10)
    assert health.status_code == 503 and health.json()["status"] == "error"
    assert models.status_code == 503 and int(models.headers["Retry-After"]) >= 1
    assert "models/nowhere holds no model" in models.json()["error"]["message"]


def test_metrics_count_outcomes_tokens_and_time_to_first_token(server):
    before = scrape(server.url)
    url = f"{server.url}/v1/chat/completions"
    whole = httpx.post(url, json=body(), timeout=60).json()
    started, first = time.monotonic(), None
    streaming = body(stream=True, stream_options={"include_usage": True})
    with httpx.stream("POST", url, json=streaming, timeout=60) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: {") and '"usage": {' in line:
                streamed = json.loads(line[6:])["usage"]
            elif first is None and '"content": "' in line and '"content": ""' not in line:
                first = time.monotonic() - started
    assert httpx.post(url, json=body(model="gpt-4o"), timeout=30).status_code == 404
    assert httpx.post(url, json=body(temperature=-1), timeout=30).status_code == 400
    after = scrape(server.url)
    counted = {o: after_n - outcomes(before)[o] for o, after_n in outcomes(after).items()}
    assert counted == {"ok": 2, "4xx": 2, "429": 0, "error": 0}
    grew = {name: after[name] - before[name] for name in ("scotd_api_prompt_tokens_total",
                                                            "scotd_api_completion_tokens_total")}
    assert grew["scotd_api_prompt_tokens_total"] == whole["usage"]["prompt_tokens"] + streamed["prompt_tokens"] > 0
    assert grew["scotd_api_completion_tokens_total"] == (whole["usage"]["completion_tokens"]
                                                         + streamed["completion_tokens"]) > 0
    ttft = "scotd_api_time_to_first_token_seconds"
    assert after[f"{ttft}_count"] - before[f"{ttft}_count"] == 1  # the streamed request; the others stream nothing
    assert 0 < after[f"{ttft}_sum"] - before[f"{ttft}_sum"] <= first
    assert after["scotd_api_queue_depth"] == 0 and after["scotd_api_requests_running"] == 0


class Failing:
    """The real engine, failing after its first piece of text."""

    def __init__(self, engine):
        self.engine = engine

    def __getattr__(self, name):
        return getattr(self.engine, name)

    complete = Engine.complete

    def stream_prompt(self, prompt, sampling):
        yield from itertools.islice(self.engine.stream_prompt(prompt, sampling), 1)
        raise RuntimeError("the accelerator caught fire")


def test_failed_generations_count_as_errors_streamed_or_not(engine):
    with UvicornThread(create_api(Failing(engine), MODEL_ID)) as server:
        url = f"{server.url}/v1/chat/completions"
        assert httpx.post(url, json=body(), timeout=60).status_code == 500
        streamed = httpx.post(url, json=body(stream=True), timeout=60)
        assert streamed.status_code == 200 and "the accelerator caught fire" in streamed.text  # reported in-band
        assert outcomes(scrape(server.url)) == {"ok": 0, "4xx": 0, "429": 0, "error": 2}


def test_logprobs_are_refused_with_a_400_naming_the_parameter(server):
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=60)
    messages = body()["messages"]
    for asked, param in (({"logprobs": True}, "logprobs"), ({"logprobs": True, "top_logprobs": 2}, "logprobs"),
                         ({"top_logprobs": 2}, "top_logprobs"), ({"logprobs": True, "stream": True}, "logprobs")):
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model=MODEL_ID, messages=messages, max_tokens=4, **asked)
        assert refused.value.body["param"] == param and param in refused.value.body["message"], asked
    reply = client.chat.completions.create(model=MODEL_ID, messages=messages, max_tokens=4, logprobs=False)
    assert reply.choices[0].message.content and reply.choices[0].logprobs is None


def test_message_content_must_be_text(server):
    url = f"{server.url}/v1/chat/completions"
    user = body()["messages"][0]
    for messages, where in (([{"role": "user", "content": None}], "messages[0].content"),
                            ([{"role": "user"}], "messages[0].content"),
                            ([user, {"role": "assistant", "content": 7}], "messages[1].content"),
                            ([{"role": "user", "content": {"text": "hi"}}], "messages[0].content"),
                            ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
                             "messages[0].content")):
        reply = httpx.post(url, json=body(messages=messages), timeout=30)
        assert reply.status_code == 400, messages
        error = reply.json()["error"]
        assert error["param"] == where and where in error["message"] and error["type"] == "invalid_request_error"
    parts = [{"type": "text", "text": user["content"][:10]}, {"type": "text", "text": user["content"][10:]}]
    as_parts = httpx.post(url, json=body(messages=[{"role": "user", "content": parts}]), timeout=60)
    as_text = httpx.post(url, json=body(), timeout=60)
    assert as_parts.status_code == 200
    assert as_parts.json()["choices"][0]["message"] == as_text.json()["choices"][0]["message"]


def test_a_body_that_is_not_json_gets_a_400_naming_the_body(server):
    url = f"{server.url}/v1/chat/completions"
    broken = httpx.post(url, content=b'{"model": "tiny-student", "messages": [', timeout=30,
                        headers={"Content-Type": "application/json"})
    assert broken.status_code == 400
    error = broken.json()["error"]
    assert error["param"] == "body" and "not valid JSON" in error["message"]
    assert error["type"] == "invalid_request_error"
    for content in (b"[1, 2]", b""):
        reply = httpx.post(url, content=content, headers={"Content-Type": "application/json"}, timeout=30)
        assert reply.status_code == 400 and reply.json()["error"]["param"] == "body", content


def test_the_api_key_guards_every_route_but_health(engine):
    with UvicornThread(create_api(engine, MODEL_ID, api_key=KEY)) as server:
        for path in ("/v1/models", f"/v1/models/{MODEL_ID}", "/metrics", "/openapi.json", "/docs", "/nowhere"):
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {KEY}x"},
                            {"Authorization": KEY}, {"Authorization": f"Basic {KEY}"}):
                refused = httpx.get(f"{server.url}{path}", headers=headers, timeout=10)
                assert refused.status_code == 401, (path, headers)
                assert refused.json()["error"]["code"] == "invalid_api_key" and refused.headers["WWW-Authenticate"]
        assert httpx.post(f"{server.url}/v1/chat/completions", json=body(), timeout=30).status_code == 401
        assert httpx.get(f"{server.url}/health", timeout=10).json() == {"status": "ok"}
        wrong = openai.OpenAI(base_url=f"{server.url}/v1", api_key="wrong", max_retries=0, timeout=60)
        with pytest.raises(openai.AuthenticationError):
            wrong.models.list()
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0, timeout=60)
        assert [m.id for m in client.models.list().data] == [MODEL_ID]
        assert client.chat.completions.create(model=MODEL_ID, messages=body()["messages"], max_tokens=4).choices
        counted = outcomes(scrape(server.url, Authorization=f"Bearer {KEY}"))
    # 4xx: the refusals, but /metrics' (not a request to the API), the POST and the openai client's
    assert counted["ok"] == 2 and counted["4xx"] == 5 * 5 + 1 + 1


def test_the_key_comes_from_the_option_else_the_environment():
    assert api_key_from("flag", {"SCOTD_API_KEY": "env"}) == "flag"
    assert api_key_from(None, {"SCOTD_API_KEY": "env"}) == "env" == api_key_from("", {"SCOTD_API_KEY": "env"})
    assert api_key_from(None, {}) is None and api_key_from("", {"SCOTD_API_KEY": ""}) is None


def test_scotd_serve_api_listens_while_loading_and_reads_the_key_from_the_environment():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "serve.cli", "serve", str(build_tiny_student()), "--api", "--port", str(port),
           "--served_name", "student"]
    env = {**os.environ, "SCOTD_API_KEY": KEY}
    with subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        try:
            statuses, deadline = [], time.time() + 120
            while time.time() < deadline and proc.poll() is None and statuses[-1:] != [200]:
                try:
                    health = httpx.get(f"{url}/health", timeout=2)
                    statuses.append(health.status_code)
                    if health.status_code == 503:
                        assert health.json() == {"status": "loading"}
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
            assert statuses[-1:] == [200] and 503 in statuses, (statuses, proc.poll())  # torch alone takes seconds
            assert httpx.get(f"{url}/v1/models", timeout=10).status_code == 401
            models = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
            assert [m["id"] for m in models.json()["data"]] == ["student"]
        finally:
            proc.terminate()
            proc.wait(timeout=20)

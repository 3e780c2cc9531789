"""The Gradio app launched on a free 127.0.0.1 port and driven with ``gradio_client``."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest
from gradio_client import Client

from serve.apps.gradio_app import CSS, ServeConfig, build_app
from serve_helpers import free_port
from tiny_student import QUESTIONS, build_tiny_student



@pytest.fixture(scope="module")
def student():
    return build_tiny_student()


@pytest.fixture(scope="module")
def broken_model(student, tmp_path_factory):
    """A folder that looks loadable but holds garbage weights: the app must report it, not die."""
    broken = tmp_path_factory.mktemp("broken")
    (broken / "config.json").write_text((student / "config.json").read_text())
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    return str(broken)


@pytest.fixture(scope="module")
def app_client(student, broken_model):
    cfg = ServeConfig(model=str(student), models=[broken_model], max_input_chars=300,
                      examples="gen:navigate")
    demo = build_app(cfg)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, css=CSS, quiet=True)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False), str(student)
    finally:
        demo.close()


def ask(client, model, question, options="", temperature=0.0, k=1):
    return client.predict([], question, options, model, temperature, 1.0, 64, k, api_name="/ask")


def thinking_and_answer(history):
    thinking = [m for m in history if (m.get("metadata") or {}).get("title") == "Thinking"]
    answers = [m for m in history if m["role"] == "assistant" and not m.get("metadata")]
    text = lambda m: m["content"] if isinstance(m["content"], str) else "".join(p.get("text", "") for p in m["content"])
    return [text(m) for m in thinking], [text(m) for m in answers]


def test_question_comes_back_with_reasoning_and_parsed_answer(app_client):
    client, model = app_client
    item = QUESTIONS[0]
    history, answer, stats, votes = ask(client, model, item["question"], "\n".join(item["choices"]))
    thinking, answers = thinking_and_answer(history)
    assert thinking == ["1. A brick is dense.\n2. A feather is light."]
    assert answers == ["### Answer: (a) a brick"] and answer == answers[0]
    assert "tok/s" in stats and "first token" in stats and votes == ""


def test_free_question_and_self_consistency_vote(app_client):
    client, model = app_client
    item = QUESTIONS[2]
    history, answer, stats, votes = ask(client, model, item["question"], temperature=0.2, k=3)
    assert "majority of 3" in answer and "| 8 |" in votes
    assert "3 samples" in votes


def test_overlong_input_gets_a_visible_message(app_client):
    client, model = app_client
    history, answer, stats, votes = ask(client, model, "w" * 301)
    assert "Input too long: 301 characters; the limit is 300" in stats
    assert "Input too long" in thinking_and_answer(history)[1][0]


def test_engine_errors_are_shown_not_fatal(app_client, broken_model):
    client, model = app_client
    history, answer, stats, votes = ask(client, broken_model, "Is the sky blue?")
    assert "The model failed on this request" in stats and "broken" in stats
    # the server is still alive and answers the next request
    assert thinking_and_answer(ask(client, model, QUESTIONS[1]["question"])[0])[1] == ["### Answer: yes"]


def test_compare_tab_asks_both_models(app_client, broken_model):
    client, model = app_client
    item = QUESTIONS[0]
    card_a, card_b = client.predict(item["question"], "\n".join(item["choices"]), model, broken_model, 0.0, 1.0, 64,
                                    api_name="/compare")
    assert "### Answer: (a) a brick" in card_a and "A brick is dense." in card_a
    assert "The model failed on this request" in card_b


def test_scotd_serve_api_command_serves_v1(student, tmp_path):
    port = free_port()
    cmd = [sys.executable, "-m", "serve.cli", "serve", str(student), "--api", "--port", str(port),
           "--served_name", "student"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        try:
            deadline, models = time.time() + 120, None
            while time.time() < deadline and proc.poll() is None:
                try:
                    models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).json()
                    break
                except httpx.HTTPError:
                    time.sleep(0.5)
            assert models and [m["id"] for m in models["data"]] == ["student"], proc.poll()
            reply = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", timeout=60, json={
                "model": "student", "temperature": 0, "max_tokens": 40,
                "messages": [{"role": "user", "content": QUESTIONS[1]["question"]}]}).json()
            assert reply["choices"][0]["message"]["content"].endswith("So the answer is yes.")
        finally:
            proc.terminate()
            proc.wait(timeout=20)


@pytest.mark.slow
def test_default_model_answers_through_the_app():
    from serve.apps.model_pick import resolve_serving_model

    model_dir = resolve_serving_model(None)
    demo = build_app(ServeConfig())
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        from serve.apps.model_pick import model_label
        history, answer, stats, _ = client.predict(
            [], "Which is heavier, a brick or a feather? Think step by step.", "a brick\na feather",
            model_label(model_dir), 0.0, 1.0, 96, 1, api_name="/ask")
        thinking, answers = thinking_and_answer(history)
        assert thinking and thinking[0].strip() not in ("", "…")
        assert answers and answers[0].startswith("### Answer:") and "tok/s" in stats
    finally:
        demo.close()

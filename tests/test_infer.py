"""``scotd infer`` end to end through the CLI, on the tiny distilled student."""

from __future__ import annotations

import json

import pytest

from serve.cli.verbs import main as scotd
from tiny_student import QUESTIONS, build_tiny_student


@pytest.fixture(scope="module")
def student():
    return build_tiny_student()


def write_questions(path, count: int, bad_lines: dict[int, str]) -> list[dict]:
    """``count`` lines; the 1-based line numbers in ``bad_lines`` hold broken text instead."""
    rows, lines = [], []
    for line in range(1, count + 1):
        if line in bad_lines:
            lines.append(bad_lines[line])
            continue
        item = QUESTIONS[line % len(QUESTIONS)]
        row = {"id": f"q{line}", "question": item["question"], "choices": item["choices"], "answer": item["answer"]}
        rows.append(row)
        lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n")
    return rows


def read_out(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_fifty_lines_two_bad_then_rerun_appends_nothing(tmp_path, student, capsys):
    questions, answers = tmp_path / "questions.jsonl", tmp_path / "answers.jsonl"
    rows = write_questions(questions, 50, {17: '{"id": "q17", "question": "unterminated', 33: '["a list"]'})
    args = ["infer", "--model", str(student), "--in", str(questions), "--out", str(answers), "--sampling.max_new_tokens", "40"]
    assert scotd(args) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 2
    assert f"{questions}:17: not valid JSON" in warnings[0] and f"{questions}:33: expected a JSON object" in warnings[1]
    out = read_out(answers)
    assert [r["id"] for r in out] == [r["id"] for r in rows] and len(out) == 48
    for record, row in zip(out, rows):
        assert record["prediction"] == row["answer"] and record["correct"] is True
        assert record["reasoning"] and "So the answer is" not in record["reasoning"]
    size = answers.stat().st_size
    assert scotd(args) == 0
    assert answers.stat().st_size == size
    assert "0 answered, 48 already in" in capsys.readouterr().err


def test_killed_run_resumes_without_duplicates(tmp_path, student, capsys):
    questions, answers = tmp_path / "questions.jsonl", tmp_path / "answers.jsonl"
    rows = write_questions(questions, 6, {})
    args = ["infer", "--model", str(student), "--in", str(questions), "--out", str(answers),
            "--sampling.max_new_tokens", "40", "--batch_size", "2"]
    assert scotd(args) == 0
    lines = answers.read_text().splitlines(keepends=True)
    answers.write_text("".join(lines[:3]) + lines[3][:25])  # as if killed while writing line 4
    assert scotd(args) == 0
    assert "torn last line" in capsys.readouterr().err
    assert [r["id"] for r in read_out(answers)] == [r["id"] for r in rows]


def test_duplicate_ids_and_missing_ids(tmp_path, student, capsys):
    questions, answers = tmp_path / "q.jsonl", tmp_path / "a.jsonl"
    item = QUESTIONS[1]
    questions.write_text("\n".join([json.dumps({"id": "x", "question": item["question"]}),
                                    json.dumps({"id": "x", "question": item["question"]}),
                                    "",
                                    json.dumps({"question": item["question"], "answer": "yes"})]) + "\n")
    assert scotd(["infer", "--model", str(student), "--in", str(questions), "--out", str(answers),
                  "--sampling.max_new_tokens", "40"]) == 0
    err = capsys.readouterr().err
    assert f"{questions}:2: id 'x' is already used on line 1" in err
    out = read_out(answers)
    assert [r["id"] for r in out] == ["x", "line-4"] and out[1]["correct"] is True


def test_self_consistency_records_votes(tmp_path, student):
    questions, answers = tmp_path / "q.jsonl", tmp_path / "a.jsonl"
    write_questions(questions, 2, {})
    assert scotd(["infer", "--model", str(student), "--in", str(questions), "--out", str(answers),
                  "--sampling.max_new_tokens", "40", "--sampling.n", "3", "--sampling.temperature", "0.3"]) == 0
    for record in read_out(answers):
        assert len(record["samples"]) == 3 and sum(record["votes"].values()) <= 3
        assert record["prediction"] == max(record["votes"], key=record["votes"].get)


def test_missing_input_is_one_line_error(tmp_path, capsys):
    assert scotd(["infer", "--in", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "a.jsonl")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("scotd infer: error:") and "nope.jsonl" in err and len(err.splitlines()) == 1
